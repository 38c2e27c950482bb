// TransformerLens's from_pretrained weight processing, each step switchable and in its order:
// fold_ln, center_writing_weights, center_unembed, fold_value_biases. None changes what the
// model computes (up to float rounding; center_unembed shifts logits by a constant per position,
// leaving log-probs unchanged); they make weights and activations easier to read: LayerNorm's
// affine part moves into the weights that read its output, what is written to the residual
// stream has no component along the all-ones direction (which LayerNorm removes anyway), and
// value biases, whose effect is constant because attention patterns sum to 1, move into b_O.
//
// Inputs are never written to (every changed tensor is a new array; unchanged tensors are
// shared) unless the caller owns them and asks for `inPlace`: fromPretrained does, for weights it
// has just read, because a new array per changed tensor touched about 900 MB of fresh pages at
// gpt2-small's size, and first touches dominated loading. Both ways compute the same floats.
// Sums over d_model or d_vocab accumulate in float64 (a float32 running sum over 50,257 terms
// loses digits).

import {
  DEFAULT_PROCESSING,
  NO_PROCESSING,
  PROCESSING_SWITCHES,
  type BlockWeights,
  type GPT2Weights,
  type HookedGPT2Config,
  type ProcessingOptions,
  type Tensor,
} from './types';
import { centreTie, foldable, foldAndCentreTie, foldIntoTie, offsetTie, UNPROCESSED_TIE, withTie } from './tiedUnembed';
import { NonFiniteTally, type NonFiniteScan } from './checkpoint/nonFinite';

/** What processWeights did: the weights, their config, and any step skipped with TransformerLens's warning. */
export interface ProcessedWeights {
  readonly cfg: HookedGPT2Config;
  readonly weights: GPT2Weights;
  /** Steps asked for but skipped, each said the way TransformerLens's logging.warning says it. */
  readonly warnings: readonly string[];
}

/**
 * `inPlace`: overwrite the input arrays that change instead of making new ones (the caller owns
 * them). `blocksProcessed`: the blocks went through processBlock already (fromPretrained processes
 * each block as it is read), so only the embeddings and the unembedding are processed here.
 */
export interface ProcessWeightsMode {
  readonly inPlace?: boolean;
  readonly blocksProcessed?: boolean;
  /**
   * processBlock records here the NaN/Inf counts of the input arrays it reads in full before
   * writing (blockTensorsScanned names them), so that the loader need not read them again.
   */
  readonly scan?: NonFiniteScan;
}

export function processWeights(
  cfg: HookedGPT2Config,
  weights: GPT2Weights,
  opts: ProcessingOptions,
  mode: ProcessWeightsMode = {},
): ProcessedWeights {
  const out = outputOf(mode);
  const centerRows = (t: Tensor): Tensor => centerRowsInto(t, out(t));
  let c = cfg;
  // Every step is either within one block or on the embeddings and unembedding, so the blocks are
  // processed one at a time (each in TransformerLens's order of the steps), the same floats.
  const blocks = mode.blocksProcessed === true ? weights.blocks : weights.blocks.map((b, l) => processBlock(cfg, b, l, opts, mode));
  let w: GPT2Weights = { ...weights, blocks };
  const warnings: string[] = [];
  if (opts.fold_ln && opts.center_writing_weights && opts.center_unembed && c.normalization_type === 'LN' && isUnprocessedTie(w)) {
    // fromPretrained's defaults on a tied checkpoint: the three steps below, with their passes over
    // W_E made as one (the same floats; tiedUnembed.ts foldAndCentreTie).
    const [d_vocab, d_model] = w.W_E.dims as [number, number];
    const E = out(w.W_E);
    const b_U = out(w.b_U);
    const lnfw = need(w.ln_final_w, 'ln_final.w');
    const lnfb = need(w.ln_final_b, 'ln_final.b');
    const tie = foldAndCentreTie(w.W_E.data, d_vocab, d_model, lnfw.data, lnfb.data, w.b_U.data, b_U, E);
    const W_E: Tensor = { dims: w.W_E.dims, data: E };
    const centred = {
      ...w,
      W_E,
      W_pos: centerRows(w.W_pos),
      ln_final_w: null,
      ln_final_b: null,
      b_U: centerRows({ dims: w.b_U.dims, data: b_U }),
    };
    return { cfg: { ...c, normalization_type: 'LNPre' }, weights: withTie(centred, tie), warnings };
  }
  if (opts.fold_ln) {
    if (c.normalization_type === 'LN') {
      w = foldLayerNorm(c, w, out);
      c = { ...c, normalization_type: 'LNPre' };
    } else {
      // TransformerLens warns and skips when the state dict has no LayerNorm weights left
      // (HookedTransformer.py:1679-1688@v3.5.1); LNPre weights are such a state dict.
      warnings.push(
        'fold_ln=True but no LayerNorm weights found (the weights are already folded, LNPre): skipping fold, as TransformerLens does',
      );
    }
  }
  // For LN/LNPre models TransformerLens centres whether or not fold_ln ran
  // (weight_processing.py:1604-1608@v3.5.1), and centres the unembedding unconditionally (:1609).
  if (opts.center_writing_weights) w = centerWritingWeights(w, centerRows);
  if (opts.center_unembed) w = centerUnembed(w, centerRows);
  return { cfg: c, weights: w, warnings };
}

/** A tied unembedding no step has touched yet (as loaded). */
function isUnprocessedTie(w: GPT2Weights): boolean {
  const t = w.tiedUnembed;
  return t !== undefined && (t === UNPROCESSED_TIE || (foldable(t) && t.rowOffset === null));
}

/**
 * What processWeights does to block `l`, alone: `cfg` is the configuration the weights were
 * loaded with (before processing). fromPretrained calls it as each block is read, so only one
 * block's float32 arrays need exist at a time; processWeights then runs with blocksProcessed.
 */
export function processBlock(
  cfg: HookedGPT2Config,
  block: BlockWeights,
  l: number,
  opts: ProcessingOptions,
  mode: ProcessWeightsMode = {},
): BlockWeights {
  const out = outputOf(mode);
  const { scan } = mode;
  const centerRows = (t: Tensor): Tensor => centerRowsInto(t, out(t), scan);
  let b: BlockWeights = { ...block };
  // fold_ln on an LNPre model is skipped with processWeights's warning.
  if (opts.fold_ln && cfg.normalization_type === 'LN') b = foldBlockLayerNorm(cfg, b, l, out, scan);
  if (opts.center_writing_weights) b = centerBlockWriters(b, centerRows);
  if (opts.fold_value_biases) {
    b = foldValueBiases(cfg, b);
    // TransformerLens centres b_O again after folding (weight_processing.py:1613-1627@v3.5.1). With
    // W_O already centred, b_V @ W_O has zero mean, so this only removes float rounding; done
    // anyway so that the steps are TransformerLens's.
    if (opts.center_writing_weights) b = { ...b, b_O: centerRows(b.b_O) };
  }
  return b;
}

/**
 * The block tensors processBlock reads in full, each before writing any of it, with these
 * switches: with mode.scan it records their NaN/Inf counts (fold_ln's sums over W_Q, W_K, W_V and
 * W_in; center_writing_weights's row sums over W_O and W_out).
 */
export function blockTensorsScanned(cfg: HookedGPT2Config, opts: ProcessingOptions): ReadonlySet<keyof BlockWeights> {
  const names = new Set<keyof BlockWeights>();
  if (opts.fold_ln && cfg.normalization_type === 'LN') for (const k of ['W_Q', 'W_K', 'W_V', 'W_in'] as const) names.add(k);
  if (opts.center_writing_weights) for (const k of ['W_O', 'W_out'] as const) names.add(k);
  return names;
}

function outputOf(mode: ProcessWeightsMode): Output {
  return mode.inPlace === true ? (t) => t.data : (t) => new Float32Array(t.data.length);
}

/** ModelOptions' processing fields → the four switches: `processing: false` is all off, else each defaults to TransformerLens's. */
export function resolveProcessing(opts: Partial<ProcessingOptions> & { readonly processing?: boolean }): ProcessingOptions {
  if (opts.processing === false) return NO_PROCESSING;
  return {
    fold_ln: opts.fold_ln ?? DEFAULT_PROCESSING.fold_ln,
    center_writing_weights: opts.center_writing_weights ?? DEFAULT_PROCESSING.center_writing_weights,
    center_unembed: opts.center_unembed ?? DEFAULT_PROCESSING.center_unembed,
    fold_value_biases: opts.fold_value_biases ?? DEFAULT_PROCESSING.fold_value_biases,
  };
}

/**
 * The TransformerLens call that loads the same model, for labels and metadata:
 * `from_pretrained_no_processing` when every switch is off, else
 * `from_pretrained(fold_ln=True, center_writing_weights=False, center_unembed=False, fold_value_biases=True)`
 * with all four spelled out, so a reader never has to know the defaults.
 */
export function processingCall(p: ProcessingOptions): string {
  if (PROCESSING_SWITCHES.every((k) => !p[k])) return 'from_pretrained_no_processing';
  return `from_pretrained(${PROCESSING_SWITCHES.map((k) => `${k}=${p[k] ? 'True' : 'False'}`).join(', ')})`;
}

/** Safetensors metadata (strings only): the call, and each switch as Python's True/False. */
export function processingMetadata(p: ProcessingOptions): Record<string, string> {
  const meta: Record<string, string> = { processing: processingCall(p) };
  for (const k of PROCESSING_SWITCHES) meta[k] = p[k] ? 'True' : 'False';
  return meta;
}

/** Named combinations of the switches, offered by Select Model and the docs. */
export interface ProcessingPreset {
  readonly id: 'defaults' | 'seed' | 'none';
  readonly label: string;
  readonly options: ProcessingOptions;
}

export const PROCESSING_PRESETS: readonly ProcessingPreset[] = [
  { id: 'defaults', label: 'TransformerLens defaults', options: DEFAULT_PROCESSING },
  {
    id: 'seed',
    label: 'Seed notebook (fold_ln only, no centring)',
    // The seed notebook: from_pretrained("gpt2-small", fold_ln=True, center_unembed=False, center_writing_weights=False);
    // fold_value_biases is not passed there, so it keeps its default, True.
    options: { fold_ln: true, center_writing_weights: false, center_unembed: false, fold_value_biases: true },
  },
  { id: 'none', label: 'No processing', options: NO_PROCESSING },
];

/** The preset these switches equal, or undefined for a custom combination. */
export function presetOf(p: ProcessingOptions): ProcessingPreset | undefined {
  return PROCESSING_PRESETS.find((preset) => PROCESSING_SWITCHES.every((k) => preset.options[k] === p[k]));
}

/**
 * LN(x) = w * n + b with n = (x - mean) / scale. A reader computes LN(x) @ W + b_r
 * = n @ (w[:, None] * W) + (b @ W + b_r), so w scales W's d_model rows and b @ W joins the
 * reader's bias. Then, because n sums to zero over d_model, W's mean over d_model can be
 * subtracted without changing the result (TransformerLens does this as part of folding).
 */
function foldLayerNorm(cfg: HookedGPT2Config, w: GPT2Weights, out: Output): GPT2Weights {
  const { d_model, d_vocab } = cfg;
  const lnfw = need(w.ln_final_w, 'ln_final.w');
  const lnfb = need(w.ln_final_b, 'ln_final.b');
  const folded = { ...w, ln_final_w: null, ln_final_b: null };
  if (w.tiedUnembed !== undefined && foldable(w.tiedUnembed)) {
    // Tied: the same sums over wte's rows, kept as vectors (tiedUnembed.ts); W_U is never made.
    const b_U = out(w.b_U);
    const tie = foldIntoTie(w.W_E.data, d_vocab, d_model, w.tiedUnembed, lnfw.data, lnfb.data, w.b_U.data, b_U);
    return withTie({ ...folded, b_U: { dims: w.b_U.dims, data: b_U } }, tie);
  }
  // Untied, or (not from_pretrained's order) a tie already centred: W_U as a matrix, the tie dropped.
  // (A plain tensor: a tied W_U's data is a getter, read per element in the loops below.)
  const [W_U, b_U] = foldIntoReader({ dims: w.W_U.dims, data: w.W_U.data }, w.b_U, lnfw, lnfb, 1, d_model, d_vocab, out);
  const { tiedUnembed: _tie, ...rest } = folded;
  return { ...rest, W_U, b_U };
}

/** foldLayerNorm's part in block `l`: ln1 into W_Q, W_K, W_V, ln2 into W_in. */
function foldBlockLayerNorm(cfg: HookedGPT2Config, b: BlockWeights, l: number, out: Output, scan?: NonFiniteScan): BlockWeights {
  const { d_model, n_heads, d_head, d_mlp } = cfg;
  const ln1w = need(b.ln1_w, `blocks.${l}.ln1.w`);
  const ln1b = need(b.ln1_b, `blocks.${l}.ln1.b`);
  const ln2w = need(b.ln2_w, `blocks.${l}.ln2.w`);
  const ln2b = need(b.ln2_b, `blocks.${l}.ln2.b`);
  const [W_Q, b_Q] = foldIntoReader(b.W_Q, b.b_Q, ln1w, ln1b, n_heads, d_model, d_head, out, scan);
  const [W_K, b_K] = foldIntoReader(b.W_K, b.b_K, ln1w, ln1b, n_heads, d_model, d_head, out, scan);
  const [W_V, b_V] = foldIntoReader(b.W_V, b.b_V, ln1w, ln1b, n_heads, d_model, d_head, out, scan);
  const [W_in, b_in] = foldIntoReader(b.W_in, b.b_in, ln2w, ln2b, 1, d_model, d_mlp, out, scan);
  return { ...b, W_Q, b_Q, W_K, b_K, W_V, b_V, W_in, b_in, ln1_w: null, ln1_b: null, ln2_w: null, ln2_b: null };
}

/**
 * W: [outer, d_model, inner] (outer = n_heads for Q/K/V, 1 for W_in and W_U), bias: [outer, inner].
 * Returns W' = centre_over_d_model(lnw[m] * W[o, m, i]) and bias' = bias + sum_m lnb[m] * W[o, m, i].
 * In place is safe: each element of W (and of bias) is read before its own slot is written. With
 * `scan`, W's NaN/Inf count is recorded there: the sums over each [d_model, inner] slice are finite
 * exactly when the slice is (given finite lnw and lnb; if not, every slice is counted).
 */
function foldIntoReader(
  W: Tensor,
  bias: Tensor,
  lnw: Tensor,
  lnb: Tensor,
  outer: number,
  d_model: number,
  inner: number,
  out: Output,
  scan?: NonFiniteScan,
): [Tensor, Tensor] {
  // Every array in a local: a property read inside the loops is done per element (V8 cannot hoist
  // it past the stores), and these loops visit every weight of a reader.
  const Wd = W.data;
  const bd = bias.data;
  const g = lnw.data;
  const s = lnb.data;
  const Wn = out(W); // [outer, d_model, inner]
  const bn = out(bias); // [outer, inner]
  const tally = scan === undefined || scan.has(Wd) ? null : new NonFiniteTally();
  const bAcc = new Float64Array(inner);
  const colSum = new Float64Array(inner);
  const m4 = d_model & ~3;
  for (let o = 0; o < outer; o++) {
    bAcc.fill(0);
    colSum.fill(0);
    // Four rows per sweep of the accumulators, added in row order (left to right), so each sum
    // is the same as one row at a time, with a quarter of the accumulator loads and stores.
    for (let m = 0; m < m4; m += 4) {
      const r0 = (o * d_model + m) * inner;
      const r1 = r0 + inner;
      const r2 = r1 + inner;
      const r3 = r2 + inner;
      const g0 = g[m]!;
      const g1 = g[m + 1]!;
      const g2 = g[m + 2]!;
      const g3 = g[m + 3]!;
      const s0 = s[m]!;
      const s1 = s[m + 1]!;
      const s2 = s[m + 2]!;
      const s3 = s[m + 3]!;
      for (let i = 0; i < inner; i++) {
        const x0 = Wd[r0 + i]!;
        const x1 = Wd[r1 + i]!;
        const x2 = Wd[r2 + i]!;
        const x3 = Wd[r3 + i]!;
        bAcc[i] = bAcc[i]! + s0 * x0 + s1 * x1 + s2 * x2 + s3 * x3;
        colSum[i] = colSum[i]! + g0 * x0 + g1 * x1 + g2 * x2 + g3 * x3;
      }
    }
    for (let m = m4; m < d_model; m++) {
      const row = (o * d_model + m) * inner;
      const gm = g[m]!;
      const sm = s[m]!;
      for (let i = 0; i < inner; i++) {
        const x = Wd[row + i]!;
        bAcc[i] += sm * x;
        colSum[i] += gm * x;
      }
    }
    if (tally !== null) {
      let t = 0;
      for (let i = 0; i < inner; i++) t += bAcc[i]! + colSum[i]!;
      // Counted before the slice is written: the counts are of the values as loaded.
      if (!Number.isFinite(t)) tally.add(Wd, o * d_model * inner, (o + 1) * d_model * inner);
    }
    const ob = o * inner;
    for (let i = 0; i < inner; i++) {
      bn[ob + i] = bd[ob + i]! + bAcc[i]!;
      colSum[i] /= d_model;
    }
    for (let m = 0; m < d_model; m++) {
      const row = (o * d_model + m) * inner;
      const gm = g[m]!;
      // Recompute g * W in float64 so centring subtracts from the exact product.
      for (let i = 0; i < inner; i++) Wn[row + i] = gm * Wd[row + i]! - colSum[i]!;
    }
  }
  if (tally !== null) scan!.set(Wd, tally);
  return [
    { dims: W.dims, data: Wn },
    { dims: bias.dims, data: bn },
  ];
}

/** Residual writers lose their mean over d_model: W_E, W_pos here, each block's in centerBlockWriters. */
function centerWritingWeights(w: GPT2Weights, centerRows: (t: Tensor) => Tensor): GPT2Weights {
  // Tied: W_U is read through W_E, so the tie remembers the means W_E's rows lose (W_U stays as it was).
  const tie = w.tiedUnembed === undefined ? undefined : offsetTie(w.tiedUnembed, rowMeans(w.W_E));
  const centred: GPT2Weights = { ...w, W_E: centerRows(w.W_E), W_pos: centerRows(w.W_pos) };
  return tie === undefined ? centred : withTie(centred, tie);
}

/** Each row's mean over the last dimension, summed in float64 as centerRowsInto sums it. */
function rowMeans(t: Tensor): Float64Array {
  const n = t.dims[t.dims.length - 1]!;
  const data = t.data;
  const out = new Float64Array(data.length / n);
  const rows = out.length;
  const sums = new Float64Array(4);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    sumFourRows(data, r * n, n, sums);
    for (let k = 0; k < 4; k++) out[r + k] = sums[k]! / n;
  }
  for (; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += data[r * n + i]!;
    out[r] = s / n;
  }
  return out;
}

/**
 * The sums of the four rows of `n` values from `a`, each added in its own order, into sums[0..3]:
 * four independent chains of float64 additions instead of one (an addition waits for the previous
 * one's result), so the same sums, faster.
 */
function sumFourRows(data: Float32Array, a: number, n: number, sums: Float64Array): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < n; i++) {
    s0 += data[a + i]!;
    s1 += data[a + n + i]!;
    s2 += data[a + 2 * n + i]!;
    s3 += data[a + 3 * n + i]!;
  }
  sums[0] = s0;
  sums[1] = s1;
  sums[2] = s2;
  sums[3] = s3;
}

/** A block's residual writers lose their mean over d_model: W_O, b_O, W_out, b_out. */
function centerBlockWriters(b: BlockWeights, centerRows: (t: Tensor) => Tensor): BlockWeights {
  return { ...b, W_O: centerRows(b.W_O), b_O: centerRows(b.b_O), W_out: centerRows(b.W_out), b_out: centerRows(b.b_out) };
}

/**
 * Softmax ignores a constant added to every logit, so W_U loses each row's mean over the
 * vocabulary and b_U its mean: logits shift, log-probs do not.
 */
function centerUnembed(w: GPT2Weights, centerRows: (t: Tensor) => Tensor): GPT2Weights {
  if (w.tiedUnembed !== undefined) {
    const [d_vocab, d_model] = w.W_E.dims as [number, number];
    return withTie({ ...w, b_U: centerRows(w.b_U) }, centreTie(w.W_E.data, d_vocab, d_model, w.tiedUnembed));
  }
  return { ...w, W_U: centerRows(w.W_U), b_U: centerRows(w.b_U) };
}

/** b_O += sum over heads of b_V[h] @ W_O[h], b_V = 0 (patterns sum to 1 so b_V's effect is constant). */
function foldValueBiases(cfg: HookedGPT2Config, b: BlockWeights): BlockWeights {
  const { n_heads, d_head, d_model } = cfg;
  const acc = Float64Array.from(b.b_O.data); // [d_model]
  const bV = b.b_V.data;
  const WO = b.W_O.data;
  for (let h = 0; h < n_heads; h++) {
    for (let k = 0; k < d_head; k++) {
      const v = bV[h * d_head + k]!;
      const row = (h * d_head + k) * d_model;
      for (let m = 0; m < d_model; m++) acc[m] += v * WO[row + m]!;
    }
  }
  return {
    ...b,
    b_O: { dims: b.b_O.dims, data: Float32Array.from(acc) },
    b_V: { dims: b.b_V.dims, data: new Float32Array(bV.length) },
  };
}

/** Where a changed tensor's values go: a new array, or the tensor's own (ProcessWeightsMode.inPlace). */
type Output = (t: Tensor) => Float32Array;

/**
 * Subtracts the mean over the last dimension from every row, writing into `out` (t's own array is
 * allowed). With `scan`, t's NaN/Inf count is recorded there (a row's sum is finite exactly when
 * the row is).
 */
function centerRowsInto(t: Tensor, out: Float32Array, scan?: NonFiniteScan): Tensor {
  const n = t.dims[t.dims.length - 1]!;
  const data = t.data;
  const rows = data.length / n;
  const tally = scan === undefined || scan.has(data) ? null : new NonFiniteTally();
  // Four rows at a time, as rowMeans does: the same sums, four addition chains in flight.
  const sums = new Float64Array(4);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const a = r * n;
    sumFourRows(data, a, n, sums);
    // Counted before the rows are written: the counts are of the values as loaded.
    if (tally !== null && !Number.isFinite(sums[0]! + sums[1]! + sums[2]! + sums[3]!)) tally.add(data, a, a + 4 * n);
    const m0 = sums[0]! / n;
    const m1 = sums[1]! / n;
    const m2 = sums[2]! / n;
    const m3 = sums[3]! / n;
    for (let i = 0; i < n; i++) {
      out[a + i] = data[a + i]! - m0;
      out[a + n + i] = data[a + n + i]! - m1;
      out[a + 2 * n + i] = data[a + 2 * n + i]! - m2;
      out[a + 3 * n + i] = data[a + 3 * n + i]! - m3;
    }
  }
  for (; r < rows; r++) {
    const a = r * n;
    let s = 0;
    for (let i = 0; i < n; i++) s += data[a + i]!;
    if (tally !== null && !Number.isFinite(s)) tally.add(data, a, a + n);
    const mean = s / n;
    for (let i = 0; i < n; i++) out[a + i] = data[a + i]! - mean;
  }
  if (tally !== null) scan!.set(data, tally);
  return { dims: t.dims, data: out };
}

function need(t: Tensor | null, name: string): Tensor {
  if (!t) throw new Error(`processWeights: fold_ln needs ${name}, but it is missing (normalization_type 'LN' with folded weights?)`);
  return t;
}
