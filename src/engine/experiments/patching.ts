// Activation patching (TransformerLens's patching.py and its demos, as of v3.5.1): run the
// corrupted prompt with one activation taken from the clean run, for every layer × position
// (or head), and see how much of the clean behaviour comes back. Every patch of a sweep is one
// entry of a batched run (src/engine/batch.ts) whose metric is computed in the graph, so a sweep
// is a few session calls, not one forward per cell.
//
// Normalisation as the patching and IOI demos write it: (patched − corrupted) / (clean − corrupted),
// so 0 = the corrupted run's metric, 1 = the clean run's.
import { runMetricBatch, type BatchOptions, type InterventionSet } from '../batch';
import type { HookedGPT2 } from '../model';
import type { Tensor } from '../types';
import { describeMetric, metricReadout, METRIC_OUTPUT, type Metric } from './metric';
import * as tokenizer from '../../tokenizer';

/**
 * What each sweep patches, in TransformerLens's patching.py names:
 *   resid_pre     get_act_patch_resid_pre: blocks.L.hook_resid_pre at one position      [layer, pos]
 *   attn_out      get_act_patch_attn_out: blocks.L.hook_attn_out at one position        [layer, pos]
 *   mlp_out       get_act_patch_mlp_out: blocks.L.hook_mlp_out at one position          [layer, pos]
 *   head_out      get_act_patch_attn_head_out_all_pos: hook_z of one head, every position [layer, head]
 *   head_pattern  get_act_patch_attn_head_pattern_all_pos: hook_pattern of one head      [layer, head]
 *   head_out_pos  get_act_patch_attn_head_out_by_pos for one chosen head: hook_z at one position [1, pos]
 */
export type SweepKind = 'resid_pre' | 'attn_out' | 'mlp_out' | 'head_out' | 'head_pattern' | 'head_out_pos';
export const SWEEP_KINDS: readonly SweepKind[] = ['resid_pre', 'attn_out', 'mlp_out', 'head_out', 'head_pattern', 'head_out_pos'];

export interface PatchingRequest {
  readonly clean: readonly number[];
  readonly corrupted: readonly number[];
  readonly metric: Metric;
  readonly sweep: SweepKind;
  /** The head whose output is patched per position (head_out_pos only). */
  readonly head?: { readonly layer: number; readonly head: number };
}

/** One cell's patch: which hook, where. */
export interface PatchCell {
  readonly hook: string;
  readonly positions?: readonly number[];
  readonly heads?: readonly number[];
}

export interface PatchingResult {
  readonly sweep: SweepKind;
  readonly metric: Metric;
  readonly metricText: string;
  /** rows × cols, row-major: rows are layers (one row for head_out_pos), cols positions or heads. */
  readonly rows: number;
  readonly cols: number;
  readonly rowLabel: 'layer' | 'head';
  readonly colLabel: 'position' | 'head';
  /** The metric of each patched run. */
  readonly raw: Float32Array;
  /** (raw − corrupted) / (clean − corrupted); null when the clean and corrupted metrics are equal. */
  readonly normalized: Float32Array | null;
  readonly cleanMetric: number;
  readonly corruptedMetric: number;
  readonly clean: readonly number[];
  readonly corrupted: readonly number[];
}

function hookOf(sweep: SweepKind, layer: number): string {
  switch (sweep) {
    case 'resid_pre':
      return `blocks.${layer}.hook_resid_pre`;
    case 'attn_out':
      return `blocks.${layer}.hook_attn_out`;
    case 'mlp_out':
      return `blocks.${layer}.hook_mlp_out`;
    case 'head_out':
    case 'head_out_pos':
      return `blocks.${layer}.attn.hook_z`;
    case 'head_pattern':
      return `blocks.${layer}.attn.hook_pattern`;
    default: {
      const exhaustive: never = sweep;
      throw new Error(`unknown sweep ${String(exhaustive)}`);
    }
  }
}

/** The patch of every cell of a sweep, row-major, with the grid's shape. */
export function sweepCells(
  model: HookedGPT2,
  req: Pick<PatchingRequest, 'sweep' | 'head'>,
  pos: number,
): { rows: number; cols: number; cells: PatchCell[] } {
  const { n_layers, n_heads } = model.cfg;
  const cells: PatchCell[] = [];
  switch (req.sweep) {
    case 'resid_pre':
    case 'attn_out':
    case 'mlp_out':
      for (let L = 0; L < n_layers; L++) for (let p = 0; p < pos; p++) cells.push({ hook: hookOf(req.sweep, L), positions: [p] });
      return { rows: n_layers, cols: pos, cells };
    case 'head_out':
    case 'head_pattern':
      for (let L = 0; L < n_layers; L++) for (let h = 0; h < n_heads; h++) cells.push({ hook: hookOf(req.sweep, L), heads: [h] });
      return { rows: n_layers, cols: n_heads, cells };
    case 'head_out_pos': {
      const hd = req.head;
      if (!hd) throw new Error('the head_out_pos sweep needs a head: { layer, head }');
      if (!Number.isInteger(hd.layer) || hd.layer < 0 || hd.layer >= n_layers)
        throw new Error(`layer ${hd.layer} is out of range 0..${n_layers - 1}`);
      if (!Number.isInteger(hd.head) || hd.head < 0 || hd.head >= n_heads)
        throw new Error(`head ${hd.head} is out of range 0..${n_heads - 1}`);
      for (let p = 0; p < pos; p++) cells.push({ hook: hookOf('head_out_pos', hd.layer), positions: [p], heads: [hd.head] });
      return { rows: 1, cols: pos, cells };
    }
    default: {
      const exhaustive: never = req.sweep;
      throw new Error(`unknown sweep ${String(exhaustive)}`);
    }
  }
}

/**
 * Clean and corrupted prompts must have the same number of tokens (a patch moves an activation
 * to the same position). The error says how many more or fewer, and where they part.
 */
export function checkPromptPair(clean: readonly number[], corrupted: readonly number[]): void {
  if (clean.length === corrupted.length) return;
  let first = 0;
  while (first < Math.min(clean.length, corrupted.length) && clean[first] === corrupted[first]) first++;
  const diff = corrupted.length - clean.length;
  const at = (ids: readonly number[]): string => (first < ids.length ? JSON.stringify(tokenizer.decode([ids[first]!])) : '(end)');
  throw new Error(
    `the clean prompt is ${clean.length} tokens and the corrupted prompt ${corrupted.length} ` +
      `(${Math.abs(diff)} ${diff > 0 ? 'more' : 'fewer'}); they first differ at token ${first}: ` +
      `${at(clean)} vs ${at(corrupted)}. Patching needs prompts of the same token length.`,
  );
}

/** An answer typed as text: it must be exactly one GPT-2 token (a leading space counts). */
export function answerToken(text: string): number {
  const ids = tokenizer.encode(text);
  if (ids.length !== 1) {
    const pieces = tokenizer.toStrTokens(ids).map((s) => JSON.stringify(s));
    throw new Error(
      ids.length === 0
        ? 'an answer is empty; type the token, e.g. " Mary" (with its leading space)'
        : `the answer ${JSON.stringify(text)} is ${ids.length} tokens (${pieces.join(', ')}); a logit difference needs one token per answer`,
    );
  }
  return ids[0]!;
}

/** The clean and corrupted metrics, in one batched call. */
export async function baselineMetrics(
  model: HookedGPT2,
  clean: readonly number[],
  corrupted: readonly number[],
  metric: Metric,
  signal?: AbortSignal,
): Promise<{ clean: number; corrupted: number }> {
  checkPromptPair(clean, corrupted);
  const readout = metricReadout(metric, model.cfg.d_vocab_out);
  const r = await model.readout([clean, corrupted], [readout], signal ? { signal } : {});
  const m = r.get(readout.key)![METRIC_OUTPUT]!.data;
  return { clean: Number(m[0]!), corrupted: Number(m[1]!) };
}

/** (x − corrupted) / (clean − corrupted) elementwise; null when the denominator is 0. */
export function normalizeMetric(raw: Float32Array, clean: number, corrupted: number): Float32Array | null {
  const denom = clean - corrupted;
  if (denom === 0 || !Number.isFinite(denom)) return null;
  return raw.map((x) => (x - corrupted) / denom);
}

/** Runs one patching sweep: the clean run's activations patched into the corrupted run, one cell per batch entry. */
export async function activationPatching(model: HookedGPT2, req: PatchingRequest, opts: BatchOptions = {}): Promise<PatchingResult> {
  checkPromptPair(req.clean, req.corrupted);
  const pos = req.corrupted.length;
  const { rows, cols, cells } = sweepCells(model, req, pos);
  const hooks = [...new Set(cells.map((c) => c.hook))];
  const { cache } = await model.runWithCache(req.clean, { names: hooks, ...(opts.signal ? { signal: opts.signal } : {}) });
  const sources = new Map<string, Tensor>(hooks.map((h) => [h, cache.get(h)] as const));
  const sets: InterventionSet[] = cells.map((c) => [{ ...c, source: sources.get(c.hook)! }]);
  const base = await baselineMetrics(model, req.clean, req.corrupted, req.metric, opts.signal);
  const raw = await runMetricBatch(model, req.corrupted, sets, req.metric, opts);
  return {
    sweep: req.sweep,
    metric: req.metric,
    metricText: describeMetric(req.metric),
    rows,
    cols,
    rowLabel: req.sweep === 'head_out_pos' ? 'head' : 'layer',
    colLabel: req.sweep === 'head_out' || req.sweep === 'head_pattern' ? 'head' : 'position',
    raw,
    normalized: normalizeMetric(raw, base.clean, base.corrupted),
    cleanMetric: base.clean,
    corruptedMetric: base.corrupted,
    clean: req.clean,
    corrupted: req.corrupted,
  };
}
