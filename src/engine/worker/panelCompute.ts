// The activation panel's requests, served inside the engine worker. Every view's numbers are
// answered in the graph by readouts (kernels/readouts/): the first view runs the forward pass with
// loss/top-k, thumbnails and residual norms appended, and fetches those plus the small hook
// points ([pos, d_model] each) the detail views start from. Each detail view is its readout on
// the same forward graph fed those held hook points and pruned to what its answer needs beyond
// them: one layer for a head's pattern or a layer's neurons, no block for the logit lens and DLA.
// The model owns this run state (HookedGPT2.runs); patterns, MLP activations and logits are never
// held, and nothing large crosses to the extension host. No vscode import.
import type { Intervention } from '../interventions';
import type { HookedGPT2 } from '../model';
import type { Readout, ReadoutAnswer } from '../readouts';
import type { RunState } from '../runState';
import { WINDOWED_ABOVE } from '../readoutWindows';
import { writeSafetensors } from '../safetensors/write';
import { processingMetadata } from '../processing';
import { lossAndTopK } from '../../../kernels/readouts/lossAndTopK';
import { thumbnails } from '../../../kernels/readouts/thumbnails';
import { residualComponents, residualNorms } from '../../../kernels/readouts/residualNorms';
import { headPattern } from '../../../kernels/readouts/headPattern';
import { topNeurons } from '../../../kernels/readouts/topNeurons';
import { logitLens, logitLensLabels } from '../../../kernels/readouts/logitLens';
import { dla, dlaLabels } from '../../../kernels/readouts/dla';
import { held, heldActivations } from '../../../kernels/readouts/held';
import { abortError } from '../../common/errors';

export type PanelOp =
  | {
      readonly op: 'run';
      readonly tokens: Int32Array;
      readonly interventions: readonly Intervention[];
      /** How many next tokens per position. */
      readonly topK: number;
      /** Thumbnail side (cells) of each pooled attention pattern. */
      readonly thumb: number;
      /**
       * The most bytes of hook points the first view holds for the detail views (default
       * HOLD_BUDGET_BYTES); over it, it holds none, and the detail views hold or recompute theirs.
       */
      readonly holdUpToBytes?: number;
    }
  | { readonly op: 'pattern'; readonly runId: number; readonly layer: number; readonly head: number }
  | {
      readonly op: 'neurons';
      readonly runId: number;
      readonly layer: number;
      readonly count: number;
      readonly neuron: number | null;
      readonly from: number;
      readonly to: number;
    }
  /**
   * The logit lens at positions [from, to) (default: all). Rows are unembedded once per run and
   * kept, so the panel asks for the visible window first and more as the user scrolls.
   */
  | { readonly op: 'logitLens'; readonly runId: number; readonly from?: number; readonly to?: number }
  | { readonly op: 'dla'; readonly runId: number; readonly pos: number; readonly token: number }
  | { readonly op: 'export'; readonly runId: number; readonly path: string }
  /** A closed panel's run (absent: every run); the last one released also frees the readout sessions. */
  | { readonly op: 'release'; readonly runId?: number };

export interface PanelSummary {
  readonly runId: number;
  readonly pos: number;
  readonly topK: number;
  readonly loss: Float32Array; // [pos]
  readonly meanLoss: number;
  readonly topIds: Int32Array; // [pos, topK]
  readonly topProbs: Float32Array; // [pos, topK]
  readonly nextProb: Float32Array; // [pos]
  readonly nextRank: Int32Array; // [pos]
  readonly thumb: number;
  readonly thumbs: Float32Array; // [n_layers, n_heads, thumb, thumb]
  readonly residLabels: readonly string[];
  readonly residNorms: Float32Array; // [components, pos]
}

export type PanelResult =
  | ({ readonly op: 'run' } & PanelSummary)
  | { readonly op: 'pattern'; readonly layer: number; readonly head: number; readonly pos: number; readonly data: Float32Array }
  | {
      readonly op: 'neurons';
      readonly layer: number;
      readonly ids: Int32Array;
      readonly values: Float32Array;
      readonly neuron: number;
      readonly neuronValues: Float32Array;
    }
  | {
      readonly op: 'logitLens';
      readonly labels: readonly string[];
      /** The positions [from, to) these rows cover; `to - from` is the window's width w. */
      readonly from: number;
      readonly to: number;
      readonly topIds: Int32Array; // [layers, w]
      readonly topProbs: Float32Array; // [layers, w]
      readonly nextProb: Float32Array; // [layers, w]; NaN at the last position
    }
  | { readonly op: 'dla'; readonly pos: number; readonly token: number; readonly labels: readonly string[]; readonly values: Float32Array }
  | { readonly op: 'export'; readonly path: string; readonly tensors: number }
  | { readonly op: 'release' };

function f32(a: ReadoutAnswer, name: string): Float32Array {
  const t = a[name];
  if (!(t?.data instanceof Float32Array)) throw new Error(`internal: readout answer '${name}' missing or not float32`);
  return t.data;
}

function i32(a: ReadoutAnswer, name: string): Int32Array {
  const t = a[name];
  if (!(t?.data instanceof BigInt64Array)) throw new Error(`internal: readout answer '${name}' missing or not int64`);
  return Int32Array.from(t.data, Number);
}

function answer(answers: Map<string, ReadoutAnswer>, key: string): ReadoutAnswer {
  const a = answers.get(key);
  if (a === undefined) throw new Error(`internal: no answer for readout ${key}`);
  return a;
}

/** Buffers to move (not copy) back to the caller. */
export function panelTransfer(r: PanelResult): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const v of Object.values(r)) if (ArrayBuffer.isView(v)) out.push(v.buffer as ArrayBuffer);
  return out;
}

export async function handlePanelOp(model: HookedGPT2 | null, op: PanelOp, signal: AbortSignal): Promise<PanelResult> {
  if (op.op === 'release') {
    if (model !== null) {
      // A closed panel: drop its run, and with the last run the readout sessions and the memory their runs grew.
      const left = op.runId === undefined ? (model.runs.clear(), 0) : model.runs.release(op.runId);
      if (left === 0) await model.releaseReadouts();
    }
    return { op: 'release' };
  }
  if (model === null) throw new Error('no model loaded');
  switch (op.op) {
    case 'run':
      return runPanel(model, op, signal);
    case 'pattern': {
      const h = model.runs.get(op.runId);
      checkIndex('layer', op.layer, model.cfg.n_layers);
      checkIndex('head', op.head, model.cfg.n_heads);
      // Without held hook points (over the hold budget), the layer's resid_pre is held first, with
      // the lens's: otherwise each layer's view would be a forward up to it, in a session kept per layer.
      await holdOnDemand(model, h, logitLens(0, 1), signal);
      const a = await ask(model, h, headPattern(op.layer, op.head), signal);
      return { op: 'pattern', layer: op.layer, head: op.head, pos: h.tokens.length, data: f32(a, 'pattern') };
    }
    case 'neurons': {
      const h = model.runs.get(op.runId);
      checkIndex('layer', op.layer, model.cfg.n_layers);
      if (op.neuron !== null) checkIndex('neuron', op.neuron, model.cfg.d_mlp);
      const pos = h.tokens.length;
      const count = Math.max(1, Math.min(op.count, 256, model.cfg.d_mlp));
      const from = Math.max(0, Math.min(op.from, pos - 1));
      const to = Math.max(from + 1, Math.min(op.to, pos));
      await holdOnDemand(model, h, logitLens(0, 1), signal);
      const a = await ask(model, h, topNeurons(op.layer, count, from, to, op.neuron), signal);
      return {
        op: 'neurons',
        layer: op.layer,
        ids: i32(a, 'ids'),
        values: f32(a, 'values'),
        neuron: i32(a, 'neuron')[0]!,
        neuronValues: f32(a, 'column'),
      };
    }
    case 'logitLens': {
      const h = model.runs.get(op.runId);
      const pos = h.tokens.length;
      const from = op.from ?? 0;
      const to = op.to ?? pos;
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > pos || from >= to) {
        throw new Error(`logit lens window [${from}, ${to}) is not inside 0..${pos}`);
      }
      await holdOnDemand(model, h, logitLens(0, 1), signal);
      return lensWindow(model, h, from, to, signal);
    }
    case 'dla': {
      const h = model.runs.get(op.runId);
      checkIndex('position', op.pos, h.tokens.length);
      checkIndex('token', op.token, model.cfg.d_vocab);
      const covered =
        dla(0, 0)
          .reads?.(model.cfg)
          .every((name) => h.held.has(name)) ?? false;
      const a = covered ? await ask(model, h, dla(op.pos, op.token), signal) : await dlaForward(model, h, op.pos, op.token, signal);
      return { op: 'dla', pos: op.pos, token: op.token, labels: dlaLabels(model.cfg), values: f32(a, 'values') };
    }
    case 'export': {
      const h = model.runs.get(op.runId);
      // The export holds every hook point, as TransformerLens's run_with_cache() does, so it is a fresh run.
      const full = await model.runWithInterventions(h.tokens, h.interventions, { names: () => true, signal });
      if (signal.aborted) throw abortError();
      const tensors = full.cache.toSafetensorsTensors();
      await writeSafetensors(op.path, tensors, {
        format: 'pt',
        model_name: model.cfg.model_name,
        source: 'Model Lens',
        transformer_lens_version: model.cfg.transformer_lens_version ?? '3.x',
        // The switches, and the from_pretrained(...) call that loads the same weights in Python.
        ...(model.processing ? processingMetadata(model.processing.options) : {}),
      });
      return { op: 'export', path: op.path, tensors: tensors.length };
    }
    default: {
      const exhaustive: never = op;
      throw new Error(`unknown panel op ${JSON.stringify(exhaustive)}`);
    }
  }
}

/**
 * One readout of a held run: the forward graph with the readout appended, fed the run's held hook
 * points (same tokens, same interventions) and pruned to what the answer needs beyond them: the
 * logit lens and DLA read only held hook points (no transformer block runs), a head's pattern or
 * a layer's neurons runs that one layer from its held resid_pre.
 */
async function ask(
  model: HookedGPT2,
  h: RunState,
  r: Parameters<HookedGPT2['readout']>[1][number],
  signal: AbortSignal,
): Promise<ReadoutAnswer> {
  return answer(await model.readout(h.tokens, [r], { interventions: h.interventions, held: h.held, signal }), r.key);
}

/**
 * DLA without its hook points held (over the hold budget): a forward of its own, released after,
 * since holding every layer's z and mlp_out would cost three times their size at once. Without
 * interventions it runs only the tokens up to `pos`: GPT-2 is causal, so nothing after `pos`
 * changes what is written at `pos` (an intervention's feeds span the whole run, so with one the
 * whole run is redone). DLA at position 20 of 1,024 tokens is then a 21-token forward.
 */
async function dlaForward(model: HookedGPT2, h: RunState, pos: number, token: number, signal: AbortSignal): Promise<ReadoutAnswer> {
  const r = dla(pos, token);
  const tokens = h.interventions.length === 0 ? h.tokens.subarray(0, pos + 1) : h.tokens;
  // A short prefix keeps its session (its arena is small), so DLA at other early positions is a run
  // only; over WINDOWED_ABOVE, as readout()'s own long forwards, the session goes after the run.
  const once = tokens.length > WINDOWED_ABOVE;
  // A long forward's peak sits on top of what the kept readout sessions' arenas hold (the lens's
  // above all): those go first, and are built again when next asked, a fraction of this forward.
  if (once) await model.releaseReadouts();
  const answers = await model.readout(tokens, [r], { interventions: h.interventions, signal, once });
  return answer(answers, r.key);
}

/**
 * The first view holds the detail views' hook points only up to this many bytes: in the first
 * view's session they exist three times at its peak (the hooks, their concatenation, the copy
 * handed back). GPT-2 small at 1,024 tokens: 117 MiB, held. gpt2-medium's shape at 1,024 tokens:
 * 304 MiB, which put the first view's peak at 2,987 MiB in fp32 (1,507 loaded), 2,253 without;
 * so there the first view holds none. The logit lens, a head's pattern and a layer's neurons then
 * hold each layer's resid_pre with one forward when first asked (100 MiB there), and DLA is a
 * forward of the tokens up to its position (dlaForward): holding every z and mlp_out instead,
 * 200 MiB, added 614 MiB to its peak.
 */
export const HOLD_BUDGET_BYTES = 128 * 2 ** 20;

/**
 * The hook points `r` reads that the run does not hold yet, held now with one forward pruned to
 * them (a run whose first view held none: over HOLD_BUDGET_BYTES).
 */
async function holdOnDemand(model: HookedGPT2, h: RunState, r: Readout, signal: AbortSignal): Promise<void> {
  const missing = (r.reads?.(model.cfg) ?? []).filter((name) => !h.held.has(name));
  if (missing.length === 0) return;
  await model.releaseReadouts(); // as in dlaForward
  const answers = await model.readout(h.tokens, [held(missing)], { interventions: h.interventions, signal, once: true });
  if (signal.aborted) throw abortError();
  h.held = new Map([...h.held, ...heldActivations(missing, answer(answers, held(missing).key))]);
}

/** An upper bound of the bytes `hooks` take at `pos` positions: none is wider than d_model per position. */
function heldBytes(cfg: HookedGPT2['cfg'], hooks: readonly string[], pos: number): number {
  return hooks.length * pos * cfg.d_model * 4;
}

/**
 * What the first view holds for the detail views (small: [pos, d_model] each): every resid_pre
 * (the logit lens, and the input of each layer's pattern and neurons), the final resid_post and
 * ln_final's scale (the lens), embed, pos_embed, each layer's z and mlp_out (DLA).
 */
function heldHooks(cfg: HookedGPT2['cfg']): string[] {
  return [...new Set([...(logitLens(0, 1).reads?.(cfg) ?? []), ...(dla(0, 0).reads?.(cfg) ?? [])])];
}

function checkIndex(what: string, v: number, limit: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= limit) throw new Error(`${what} ${v} is out of range 0..${limit - 1}`);
}

async function runPanel(model: HookedGPT2, op: Extract<PanelOp, { op: 'run' }>, signal: AbortSignal): Promise<PanelResult> {
  model.runs.clear(); // one activation panel per window: a new run replaces the old one
  const cfg = model.cfg;
  const pos = op.tokens.length;
  const K = Math.max(1, Math.min(op.topK, cfg.d_vocab_out));
  const t = Math.max(1, Math.min(op.thumb, pos));
  const wanted = heldHooks(cfg);
  const keep = heldBytes(cfg, wanted, pos) <= (op.holdUpToBytes ?? HOLD_BUDGET_BYTES) ? wanted : [];
  const first = [lossAndTopK(K), thumbnails(t), residualNorms(), ...(keep.length > 0 ? [held(keep)] : [])];
  const answers = await model.readout(op.tokens, first, { interventions: op.interventions, signal });
  if (signal.aborted) throw abortError();
  const next = answer(answers, first[0]!.key);
  const loss = f32(next, 'loss');
  const nextProb = f32(next, 'nextProb');
  const nextRank = i32(next, 'nextRank');
  // The last position has no next token: its answers are masked here, as the views expect.
  loss[pos - 1] = NaN;
  nextProb[pos - 1] = NaN;
  nextRank[pos - 1] = 0;
  let sum = 0;
  for (let p = 0; p + 1 < pos; p++) sum += loss[p]!;
  const kept = keep.length > 0 ? heldActivations(keep, answer(answers, first[3]!.key)) : new Map<string, never>();
  const run = model.runs.add(op.tokens, op.interventions, kept);
  return {
    op: 'run',
    runId: run.runId,
    pos,
    topK: K,
    loss,
    meanLoss: pos > 1 ? sum / (pos - 1) : NaN,
    topIds: i32(next, 'topIds'),
    topProbs: f32(next, 'topProbs'),
    nextProb,
    nextRank,
    thumb: t,
    thumbs: f32(answer(answers, first[1]!.key), 'thumbs'),
    residLabels: residualComponents(cfg).labels,
    residNorms: f32(answer(answers, first[2]!.key), 'norms'),
  };
}

/**
 * Positions per lens readout: its unembedded rows [(n_layers+1)·w, d_vocab] exist only inside
 * onnxruntime, and this bounds them (about 50 MB for GPT-2's vocabulary; 512 rows put the lens's kept
 * session's arena over gpt2-medium's 1.5 GB fp16 bound).
 */
const LENS_ROWS = 256;

/**
 * The logit lens at positions [from, to): positions not answered yet for this run are asked in
 * chunks of whole positions, and the answers are kept (small: three numbers per layer and
 * position) so scrolling back costs nothing.
 */
async function lensWindow(model: HookedGPT2, h: RunState, from: number, to: number, signal: AbortSignal): Promise<PanelResult> {
  const pos = h.tokens.length;
  const layers = model.cfg.n_layers + 1;
  const rows = (h.lens ??= {
    topIds: new Int32Array(layers * pos),
    topProbs: new Float32Array(layers * pos),
    nextProb: new Float32Array(layers * pos).fill(NaN),
    done: new Uint8Array(pos),
  });
  const chunk = Math.max(1, Math.floor(LENS_ROWS / layers));
  for (let a = from; a < to;) {
    if (rows.done[a]) {
      a++;
      continue;
    }
    let b = a + 1;
    while (b < to && b - a < chunk && !rows.done[b]) b++;
    if (signal.aborted) throw abortError();
    const ans = await ask(model, h, logitLens(a, b), signal); // [layers, 1, w, 1] each
    const ids = i32(ans, 'topIds');
    const top = f32(ans, 'topProbs');
    const nextP = f32(ans, 'nextProb');
    const w = b - a;
    for (let l = 0; l < layers; l++) {
      for (let i = 0; i < w; i++) {
        const at = l * pos + a + i;
        rows.topIds[at] = ids[l * w + i]!;
        rows.topProbs[at] = top[l * w + i]!;
        if (a + i + 1 < pos) rows.nextProb[at] = nextP[l * w + i]!;
      }
    }
    rows.done.fill(1, a, b);
    a = b;
  }
  const w = to - from;
  const topIds = new Int32Array(layers * w);
  const topProbs = new Float32Array(layers * w);
  const nextProb = new Float32Array(layers * w);
  for (let l = 0; l < layers; l++) {
    topIds.set(rows.topIds.subarray(l * pos + from, l * pos + to), l * w);
    topProbs.set(rows.topProbs.subarray(l * pos + from, l * pos + to), l * w);
    nextProb.set(rows.nextProb.subarray(l * pos + from, l * pos + to), l * w);
  }
  return { op: 'logitLens', labels: logitLensLabels(model.cfg), from, to, topIds, topProbs, nextProb };
}
