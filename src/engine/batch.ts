// "Run these K intervention sets on this prompt and return this metric": the primitive that
// activation patching, ablation sweeps and head scans stand on. The prompt is repeated as a
// batch; each hook that any set touches gets one per-entry patch (`patchEntries`: a Where whose
// selection has a batch axis), and the metric is computed in the graph (kernels/readouts/metric.ts),
// so a sweep of N sets is ⌈N / maxBatch⌉ session calls that each return [batch] numbers.
import { abortError } from '../common/errors';
import type { HookedGPT2 } from './model';
import type { Intervention, PatchSite } from './interventions';
import { metricReadout, METRIC_OUTPUT, type Metric } from './experiments/metric';
import { hookShape } from './hookPoints';
import type { Tensor } from './types';

/** One change in one set: `hook` takes `source`'s values at the positions × heads given (all when absent). */
export interface PatchEdit extends PatchSite {
  readonly hook: string;
  /** The hook's full tensor for this prompt, batch 1 (a clean run's activation, zeros, a mean, ...). */
  readonly source: Tensor;
}

/** The edits of one batch entry; an empty set is the unpatched run. */
export type InterventionSet = readonly PatchEdit[];

export interface BatchOptions {
  readonly signal?: AbortSignal;
  /** Most batch entries per session call; by default sized from the model and prompt (about 512 MB of activations). */
  readonly maxBatch?: number;
  /** Called after each session call with the entries done so far. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Activation bytes per batch entry, roughly: one layer's working set, the residual stream kept per layer, the unembedding. */
function bytesPerEntry(model: HookedGPT2, pos: number, metric: Metric): number {
  const c = model.cfg;
  const layer = pos * (3 * c.d_mlp + 10 * c.d_model) + 3 * c.n_heads * pos * pos;
  const resid = c.n_layers * pos * c.d_model;
  const unembedded = (metric.kind === 'loss' ? pos : 1) * c.d_vocab_out * 2;
  return 4 * (2 * layer + resid + unembedded);
}

export function defaultMaxBatch(model: HookedGPT2, pos: number, metric: Metric): number {
  return Math.max(1, Math.min(256, Math.floor((512 * 2 ** 20) / bytesPerEntry(model, pos, metric))));
}

/**
 * The metric of each intervention set on `tokens` (one prompt), in order: a Float32Array of K.
 * Results equal running each set alone (runWithInterventions + the metric) up to float32 rounding.
 */
export async function runMetricBatch(
  model: HookedGPT2,
  tokens: readonly number[],
  sets: readonly InterventionSet[],
  metric: Metric,
  opts: BatchOptions = {},
): Promise<Float32Array> {
  if (metric.kind === 'loss' && tokens.length < 2) throw new Error('the loss needs at least 2 tokens (it predicts each next token)');
  const order = new Map(model.hookPoints().map((h, k) => [h.name, k] as const));
  const hooks = new Set<string>();
  sets.forEach((set, k) => {
    const seen = new Set<string>();
    for (const e of set) {
      if (!order.has(e.hook)) throw new Error(`intervention set ${k}: no hook point named '${e.hook}'`);
      if (seen.has(e.hook)) throw new Error(`intervention set ${k}: two edits on ${e.hook}; give one edit per hook`);
      seen.add(e.hook);
      hooks.add(e.hook);
    }
  });
  // Every call patches the same hooks (an entry that leaves one alone selects nothing there), so
  // all chunks share one graph and one session.
  const hookList = [...hooks].sort((a, b) => order.get(a)! - order.get(b)!);
  const decls = new Map(model.hookPoints().map((h) => [h.name, h] as const));
  const shapeOf = (hook: string): number[] => hookShape(decls.get(hook)!, model.cfg, tokens.length);
  const readout = metricReadout(metric, model.cfg.d_vocab_out);
  const maxBatch = Math.max(1, Math.floor(opts.maxBatch ?? defaultMaxBatch(model, tokens.length, metric)));
  // Sets run in the order of their earliest patched hook, and each call feeds the prompt once:
  // the graph computes everything before a chunk's earliest patched hook for one row, and the
  // per-entry Where widens it to the chunk's rows from there. A chunk of late-layer patches skips
  // the early layers' batch-wide work (a resid_pre sweep does about half the work of K forwards).
  const first = (set: InterventionSet): number => Math.min(Infinity, ...set.map((e) => order.get(e.hook)!));
  const byStart = sets.map((set, k) => ({ set, k, start: first(set) })).sort((a, b) => a.start - b.start || a.k - b.k);
  // A chunk also ends where the earliest hook changes once it holds an eighth of maxBatch: more,
  // smaller calls, each starting its batch-wide work later.
  const minChunk = Math.max(1, Math.ceil(maxBatch / 8));
  const chunks: (typeof byStart)[] = [];
  for (const x of byStart) {
    const cur = chunks[chunks.length - 1];
    if (!cur || cur.length >= maxBatch || (cur.length >= minChunk && cur[cur.length - 1]!.start !== x.start)) chunks.push([x]);
    else cur.push(x);
  }
  const out = new Float32Array(sets.length);
  let done = 0;
  for (const slice of chunks) {
    if (opts.signal?.aborted) throw abortError();
    const chunk = slice.map((x) => x.set);
    const interventions = hookList.map((hook) => entryPatch(hook, chunk, shapeOf(hook)));
    // A chunk of unpatched runs has no patched hook to widen the batch: feed one row per set.
    const widens = chunk.some((set) => set.length > 0);
    const r = await model.readout(widens ? tokens : chunk.map(() => tokens), [readout], {
      interventions,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const got = r.get(readout.key)![METRIC_OUTPUT]!.data;
    if (!(got instanceof Float32Array)) throw new Error('internal: the metric is not float32');
    if (got.length !== chunk.length) throw new Error(`internal: ${got.length} metric values for ${chunk.length} sets`);
    slice.forEach((x, i) => (out[x.k] = got[i]!));
    done += chunk.length;
    opts.onProgress?.(done, sets.length);
  }
  return out;
}

/** The per-entry patch of one hook over a chunk: one shared source when all entries use the same tensor, else stacked. */
function entryPatch(hook: string, chunk: readonly InterventionSet[], shape: readonly number[]): Intervention {
  const edits = chunk.map((set) => set.find((e) => e.hook === hook) ?? null);
  const sources = [...new Set(edits.flatMap((e) => (e ? [e.source] : [])))];
  const site = (e: PatchEdit | null): PatchSite | null =>
    e === null ? null : { ...(e.positions ? { positions: e.positions } : {}), ...(e.heads ? { heads: e.heads } : {}) };
  const entries = edits.map(site);
  if (sources.length === 0) {
    // No entry of this chunk touches the hook; the graph still has its patch, so feed a zero source.
    return { kind: 'patchEntries', hook, source: zerosLike(shape), entries };
  }
  if (sources.length === 1) return { kind: 'patchEntries', hook, source: sources[0]!, entries };
  const one = sources[0]!;
  const size = one.data.length;
  const data = new Float32Array(size * chunk.length);
  edits.forEach((e, k) => {
    if (e === null) return;
    if (e.source.data.length !== size) throw new Error(`patch sources for ${hook} differ in shape`);
    data.set(e.source.data, k * size);
  });
  return { kind: 'patchEntries', hook, source: { dims: [chunk.length, ...one.dims.slice(1)], data }, entries };
}

function zerosLike(dims: readonly number[]): Tensor {
  return { dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) };
}
