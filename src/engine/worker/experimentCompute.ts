// The worker's experiment requests (activation patching, head detection), each one batched job
// on the loaded model: the host sends token ids and the sweep, and gets back the grid of numbers.
// Cancellation reaches the batched runs between session calls (runMetricBatch checks the signal).
import { abortError } from '../../common/errors';
import { nextToken } from '../../../kernels/readouts/nextToken';
import { compareRuns, type CompareRequest, type CompareResult } from '../experiments/compare';
import { panelInterventions, type PanelInterventionRequest } from '../experiments/panelInterventions';
import type { Intervention } from '../interventions';
import { detectHeads, type HeadKind } from '../experiments/headDetector';
import type { Metric } from '../experiments/metric';
import { activationPatching, sweepCells, type SweepKind } from '../experiments/patching';
import type { HookedGPT2 } from '../model';

export type ExperimentOp =
  | {
      readonly op: 'patching';
      readonly clean: Int32Array;
      readonly corrupted: Int32Array;
      readonly metric: Metric;
      readonly sweep: SweepKind;
      readonly head?: { readonly layer: number; readonly head: number };
    }
  /** One cell of a sweep run alone: the patched run's top next tokens at the last position. */
  | {
      readonly op: 'patchTop';
      readonly clean: Int32Array;
      readonly corrupted: Int32Array;
      readonly sweep: SweepKind;
      readonly head?: { readonly layer: number; readonly head: number };
      readonly cell: number;
      readonly k: number;
    }
  | { readonly op: 'detectHeads'; readonly tokens: Int32Array }
  /** The panel's ablations (zero, mean, resample) and steering vector as interventions, mean and resampled values read here. */
  | ({ readonly op: 'interventions' } & PanelInterventionRequest)
  /** The top k next tokens at the last position with interventions (steering beside the inline logits, the panel's steering view). */
  | { readonly op: 'nextTokens'; readonly tokens: Int32Array; readonly interventions: readonly Intervention[]; readonly k: number }
  /** Two runs side by side (compare.ts). */
  | ({ readonly op: 'compare' } & CompareRequest);

export type ExperimentResult =
  | {
      readonly op: 'patching';
      readonly rows: number;
      readonly cols: number;
      readonly rowLabel: string;
      readonly colLabel: string;
      readonly raw: Float32Array;
      /** NaN everywhere when the clean and corrupted metrics are equal (nothing to normalise by). */
      readonly normalized: Float32Array;
      readonly cleanMetric: number;
      readonly corruptedMetric: number;
      readonly metricText: string;
    }
  | { readonly op: 'patchTop'; readonly ids: Int32Array; readonly probs: Float32Array }
  | {
      readonly op: 'detectHeads';
      readonly nLayers: number;
      readonly nHeads: number;
      readonly kinds: readonly HeadKind[];
      /** [kinds, n_layers, n_heads] */
      readonly scores: Float32Array;
    }
  | { readonly op: 'interventions'; readonly interventions: Intervention[] }
  | { readonly op: 'nextTokens'; readonly ids: Int32Array; readonly probs: Float32Array }
  | ({ readonly op: 'compare' } & CompareResult);

export async function handleExperimentOp(model: HookedGPT2 | null, op: ExperimentOp, signal: AbortSignal): Promise<ExperimentResult> {
  if (model === null) throw new Error('no model loaded');
  switch (op.op) {
    case 'patching': {
      const r = await activationPatching(
        model,
        {
          clean: Array.from(op.clean),
          corrupted: Array.from(op.corrupted),
          metric: op.metric,
          sweep: op.sweep,
          ...(op.head ? { head: op.head } : {}),
        },
        { signal },
      );
      return {
        op: 'patching',
        rows: r.rows,
        cols: r.cols,
        rowLabel: r.rowLabel,
        colLabel: r.colLabel,
        raw: r.raw,
        normalized: r.normalized ?? new Float32Array(r.raw.length).fill(NaN),
        cleanMetric: r.cleanMetric,
        corruptedMetric: r.corruptedMetric,
        metricText: r.metricText,
      };
    }
    case 'patchTop': {
      const { cells } = sweepCells(model, op, op.corrupted.length);
      const cell = cells[op.cell];
      if (!cell) throw new Error(`cell ${op.cell} is outside this sweep's ${cells.length} cells`);
      const { cache } = await model.runWithCache(Array.from(op.clean), { names: [cell.hook], signal });
      const logits = (
        await model.runWithInterventions(
          Array.from(op.corrupted),
          [
            {
              kind: 'patch',
              hook: cell.hook,
              source: cache.get(cell.hook),
              ...(cell.positions ? { positions: cell.positions } : {}),
              ...(cell.heads ? { heads: cell.heads } : {}),
            },
          ],
          { signal },
        )
      ).logits;
      const V = logits.dims[2]!;
      const last = logits.data.subarray(logits.data.length - V);
      return { op: 'patchTop', ...topK(last, op.k) };
    }
    case 'detectHeads': {
      const r = await detectHeads(model, Array.from(op.tokens), undefined, { signal });
      const kinds = Object.keys(r.scores) as HeadKind[];
      const scores = new Float32Array(kinds.length * r.n_layers * r.n_heads);
      kinds.forEach((k, i) => scores.set(r.scores[k], i * r.n_layers * r.n_heads));
      if (signal.aborted) throw abortError();
      return { op: 'detectHeads', nLayers: r.n_layers, nHeads: r.n_heads, kinds, scores };
    }
    case 'interventions': {
      const { op: _op, ...req } = op;
      return { op: 'interventions', interventions: await panelInterventions(model, req, signal) };
    }
    case 'nextTokens': {
      const k = Math.max(1, Math.min(Math.floor(op.k), model.cfg.d_vocab_out));
      const r = nextToken(k, null);
      const a = (await model.readout(op.tokens, [r], { interventions: op.interventions, signal })).get(r.key);
      if (!a?.topIds || !a.topProbs) throw new Error('internal: nextToken answers missing');
      return { op: 'nextTokens', ids: Int32Array.from(a.topIds.data, Number), probs: Float32Array.from(a.topProbs.data, Number) };
    }
    case 'compare': {
      const { op: _op, ...req } = op;
      return { op: 'compare', ...(await compareRuns(model, req, signal)) };
    }
    default: {
      const exhaustive: never = op;
      throw new Error(`unknown experiment ${JSON.stringify(exhaustive)}`);
    }
  }
}

/** Softmax probabilities of the k largest logits. */
function topK(logits: Float32Array, k: number): { ids: Int32Array; probs: Float32Array } {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const order = Array.from(logits.keys())
    .sort((a, b) => logits[b]! - logits[a]!)
    .slice(0, k);
  return { ids: Int32Array.from(order), probs: Float32Array.from(order, (i) => Math.exp(logits[i]! - max) / sum) };
}

/** The buffers a result can move to the host without copying. */
export function experimentTransfer(r: ExperimentResult): ArrayBuffer[] {
  switch (r.op) {
    case 'patching':
      return [r.raw.buffer as ArrayBuffer, r.normalized.buffer as ArrayBuffer];
    case 'patchTop':
      return [r.ids.buffer as ArrayBuffer, r.probs.buffer as ArrayBuffer];
    case 'detectHeads':
      return [r.scores.buffer as ArrayBuffer];
    case 'nextTokens':
      return [r.ids.buffer as ArrayBuffer, r.probs.buffer as ArrayBuffer];
    case 'interventions':
    case 'compare':
      return [];
  }
}
