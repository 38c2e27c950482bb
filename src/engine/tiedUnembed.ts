// A tied checkpoint's unembedding, kept as W_E plus small corrections instead of a second
// [d_model, d_vocab] matrix (154 MB at gpt2-small's size, 206 MB at gpt2-medium's).
//
// Loaded, W_U is wte's transpose. Processing then changes W_U and W_E apart, but each change is
// a vector, not a matrix (processing.ts does them, in its order):
//   fold_ln:                W_U[m, v] ← g[m]·W_U[m, v] − β[v],  β[v] = mean over m of g[m]·W_U[m, v]
//   center_writing_weights: W_E[v, m] ← W_E[v, m] − μ[v],      μ[v] = mean over m of W_E[v, m]
//   center_unembed:         W_U[m, v] ← W_U[m, v] − γ[m],      γ[m] = mean over v of W_U[m, v]
// so, with the stored (processed) W_E and off[v] = what W_E's row v has lost since the tie,
//   W_U[m, v] = a[m]·(W_E[v, m] + off[v]) − β[v] − γ[m]      (a = g after fold_ln, else ones)
// and the logits of x [.., d_model] are
//   x·W_U[:, v] + b_U[v] = (x∘a)·W_E[v] + (x·a)·off[v] − (Σx)·β[v] − x·γ + b_U[v],
// one product with W_E transposed plus a rank-3 correction, x·P·Q with P = [a, 1, −γ] ([d_model, 3])
// and Q = [off; −β; 1] ([3, d_vocab]); only the terms processing made are kept. The vectors are
// float64, computed from the weights as processing would (its sums are float64 too); the graph
// gets float32 copies (graphTensors). JavaScript readers of W_U get it materialised on demand
// (tiedW_U), held only through a WeakRef.
import type { GPT2Weights, Tensor } from './types';

/** The processing a tied unembedding went through, as vectors; null: that step did not happen. */
export interface TiedUnembed {
  /** a [d_model]: ln_final's weight, folded in (fold_ln). */
  readonly scale: Float64Array | null;
  /** off [d_vocab]: wte[v] = W_E[v] + off[v] (the means center_writing_weights took from W_E's rows). */
  readonly rowOffset: Float64Array | null;
  /** β [d_vocab]: taken from every entry of column v (fold_ln's centring over d_model). */
  readonly columnShift: Float64Array | null;
  /** γ [d_model]: taken from every entry of row m (center_unembed's centring over the vocabulary). */
  readonly rowShift: Float64Array | null;
}

/** Just loaded: W_U is W_E's transpose. */
export const UNPROCESSED_TIE: TiedUnembed = { scale: null, rowOffset: null, columnShift: null, rowShift: null };

/** `w` with its unembedding tied through `tie`: W_U becomes a view computed from w.W_E on access. */
export function withTie(w: GPT2Weights, tie: TiedUnembed): GPT2Weights {
  return { ...w, tiedUnembed: tie, W_U: tiedW_U(w.W_E, tie) };
}

/**
 * W_U [d_model, d_vocab] as a tensor whose data is computed from W_E (read on each computation, so
 * a lazily decoded W_E works) the first time it is read and kept only while something holds it.
 */
export function tiedW_U(W_E: Tensor, tie: TiedUnembed): Tensor {
  const [d_vocab, d_model] = W_E.dims as [number, number];
  let ref: WeakRef<Float32Array> | null = null;
  return {
    dims: [d_model, d_vocab],
    get data(): Float32Array {
      let d = ref?.deref();
      if (d === undefined) {
        d = materialiseW_U(W_E.data, d_vocab, d_model, tie);
        ref = new WeakRef(d);
      }
      return d;
    },
  };
}

/**
 * W_U[m, v] = a[m]·(E[v, m] + off[v]) − β[v] − γ[m], computed in float64. With UNPROCESSED_TIE it is
 * E's transpose (load.ts uses it so for an untied lm_head). Written in tiles: a plain row-by-row
 * transpose of a [50,257, 768] matrix writes each output row 4 bytes at a time across 768 pages,
 * which the cache cannot hold.
 */
export function materialiseW_U(E: Float32Array, d_vocab: number, d_model: number, tie: TiedUnembed): Float32Array {
  const { scale: a, rowOffset: off, columnShift: beta, rowShift: gamma } = tie;
  const out = new Float32Array(d_vocab * d_model);
  const TILE = 64;
  for (let v0 = 0; v0 < d_vocab; v0 += TILE) {
    const v1 = Math.min(d_vocab, v0 + TILE);
    for (let m0 = 0; m0 < d_model; m0 += TILE) {
      const m1 = Math.min(d_model, m0 + TILE);
      for (let m = m0; m < m1; m++) {
        const am = a === null ? 1 : a[m]!;
        const gm = gamma === null ? 0 : gamma[m]!;
        const o = m * d_vocab;
        for (let v = v0; v < v1; v++) {
          const e = E[v * d_model + m]! + (off === null ? 0 : off[v]!);
          out[o + v] = am * e - (beta === null ? 0 : beta[v]!) - gm;
        }
      }
    }
  }
  return out;
}

/** True when no step has touched the tie yet but (maybe) the centring of W_E. */
export function foldable(tie: TiedUnembed): boolean {
  return tie.scale === null && tie.columnShift === null && tie.rowShift === null;
}

/**
 * fold_ln on a tied W_U (foldable(tie) must hold): a = g, β[v] = mean over m of g[m]·wte[v, m], and
 * b_U[v] + Σ_m s[m]·wte[v, m], with wte[v] = E[v] + off[v]; the same float64 sums as processing's
 * foldIntoReader makes over W_U's columns.
 */
export function foldIntoTie(
  E: Float32Array,
  d_vocab: number,
  d_model: number,
  tie: TiedUnembed,
  g: Float32Array,
  s: Float32Array,
  b_U: Float32Array,
  outB: Float32Array,
): TiedUnembed {
  const beta = new Float64Array(d_vocab);
  const off = tie.rowOffset;
  // Two rows at a time (tieRowSums), each sum still in its own order, so the same floats.
  const sums = new Float64Array(6);
  let v = 0;
  for (; off === null && v + 2 <= d_vocab; v += 2) {
    tieRowSums(E, v * d_model, (v + 1) * d_model, d_model, g, s, sums);
    outB[v] = b_U[v]! + sums[0]!;
    beta[v] = sums[1]! / d_model;
    outB[v + 1] = b_U[v + 1]! + sums[3]!;
    beta[v + 1] = sums[4]! / d_model;
  }
  for (; v < d_vocab; v++) {
    const row = v * d_model;
    const o = off === null ? 0 : off[v]!;
    let bAcc = 0;
    let colSum = 0;
    for (let m = 0; m < d_model; m++) {
      const x = E[row + m]! + o;
      bAcc += s[m]! * x;
      colSum += g[m]! * x;
    }
    outB[v] = b_U[v]! + bAcc;
    beta[v] = colSum / d_model;
  }
  return { ...tie, scale: Float64Array.from(g), columnShift: beta };
}

/**
 * Rows r0 and r1 of E (d_model values each): Σ s[m]·x, Σ g[m]·x and Σ x of each, in that order into
 * sums[0..2] and sums[3..5]. Six independent chains of float64 additions instead of one after
 * another (an addition waits for the previous one's result); each sum in its own order.
 */
function tieRowSums(E: Float32Array, r0: number, r1: number, d_model: number, g: Float32Array, s: Float32Array, sums: Float64Array): void {
  let b0 = 0;
  let c0 = 0;
  let t0 = 0;
  let b1 = 0;
  let c1 = 0;
  let t1 = 0;
  for (let m = 0; m < d_model; m++) {
    const gm = g[m]!;
    const sm = s[m]!;
    const x0 = E[r0 + m]!;
    const x1 = E[r1 + m]!;
    b0 += sm * x0;
    c0 += gm * x0;
    t0 += x0;
    b1 += sm * x1;
    c1 += gm * x1;
    t1 += x1;
  }
  sums[0] = b0;
  sums[1] = c0;
  sums[2] = t0;
  sums[3] = b1;
  sums[4] = c1;
  sums[5] = t1;
}

/**
 * fold_ln, center_writing_weights and center_unembed on a just-loaded tie (UNPROCESSED_TIE), as
 * from_pretrained's defaults run them, in one pass over E instead of four (foldIntoTie's sums,
 * W_E's row means, the centring, centreTie's column sums): each row's sums are made as those steps
 * make them, in the same order, so the floats are the same. Writes the centred E into `outE` (E
 * itself is allowed) and the folded b_U into `outB`; returns the tie.
 */
export function foldAndCentreTie(
  E: Float32Array,
  d_vocab: number,
  d_model: number,
  g: Float32Array,
  s: Float32Array,
  b_U: Float32Array,
  outB: Float32Array,
  outE: Float32Array,
): TiedUnembed {
  const beta = new Float64Array(d_vocab);
  const mu = new Float64Array(d_vocab);
  const colMean = new Float64Array(d_model);
  const sums = new Float64Array(6);
  // Two rows at a time (tieRowSums); the column sums still add row v before row v + 1.
  let v = 0;
  for (; v < d_vocab; v += 2) {
    const two = v + 1 < d_vocab;
    const r0 = v * d_model;
    const r1 = two ? r0 + d_model : r0;
    tieRowSums(E, r0, r1, d_model, g, s, sums);
    const b0 = sums[0]!;
    const c0 = sums[1]!;
    const t0 = sums[2]!;
    const b1 = sums[3]!;
    const c1 = sums[4]!;
    const t1 = sums[5]!;
    const mu0 = t0 / d_model;
    const mu1 = t1 / d_model;
    outB[v] = b_U[v]! + b0;
    beta[v] = c0 / d_model;
    mu[v] = mu0;
    if (two) {
      outB[v + 1] = b_U[v + 1]! + b1;
      beta[v + 1] = c1 / d_model;
      mu[v + 1] = mu1;
      for (let m = 0; m < d_model; m++) {
        // Math.fround: the column sums add the stored float32, as centreTie reads it back.
        const e0 = Math.fround(E[r0 + m]! - mu0);
        const e1 = Math.fround(E[r1 + m]! - mu1);
        outE[r0 + m] = e0;
        outE[r1 + m] = e1;
        colMean[m] = colMean[m]! + e0 + e1;
      }
    } else {
      for (let m = 0; m < d_model; m++) {
        const e0 = Math.fround(E[r0 + m]! - mu0);
        outE[r0 + m] = e0;
        colMean[m] += e0;
      }
    }
  }
  return centredTie({ scale: Float64Array.from(g), rowOffset: mu, columnShift: beta, rowShift: null }, colMean, d_vocab);
}

/** center_writing_weights took μ [d_vocab] from W_E's rows: the tie remembers it. */
export function offsetTie(tie: TiedUnembed, mu: Float64Array): TiedUnembed {
  if (tie.rowOffset === null) return { ...tie, rowOffset: mu };
  const off = Float64Array.from(tie.rowOffset);
  for (let v = 0; v < off.length; v++) off[v] += mu[v]!;
  return { ...tie, rowOffset: off };
}

/**
 * center_unembed on a tied W_U: γ'[m] = γ[m] + mean over v of W_U[m, v]
 * = a[m]·(mean over v of E[v, m] + mean(off)) − mean(β), in float64.
 */
export function centreTie(E: Float32Array, d_vocab: number, d_model: number, tie: TiedUnembed): TiedUnembed {
  const colMean = new Float64Array(d_model);
  for (let v = 0; v < d_vocab; v++) {
    const row = v * d_model;
    for (let m = 0; m < d_model; m++) colMean[m] += E[row + m]!;
  }
  return centredTie(tie, colMean, d_vocab);
}

/** centreTie's γ from E's column sums (over its d_vocab rows). */
function centredTie(tie: TiedUnembed, colMean: Float64Array, d_vocab: number): TiedUnembed {
  const d_model = colMean.length;
  const mean = (x: Float64Array | null): number => (x === null ? 0 : x.reduce((s, y) => s + y, 0) / x.length);
  const offMean = mean(tie.rowOffset);
  const betaMean = mean(tie.columnShift);
  const gamma = new Float64Array(d_model);
  for (let m = 0; m < d_model; m++) {
    const am = tie.scale === null ? 1 : tie.scale[m]!;
    gamma[m] = am * (colMean[m]! / d_vocab + offMean) - betaMean;
  }
  return { ...tie, rowShift: gamma };
}

/** What the graph reads for a tie, as float32: a (or null), and P [d_model, K], Q [K, d_vocab] (null when K = 0). */
export interface TieGraphTensors {
  readonly scale: Tensor | null;
  readonly P: Tensor | null;
  readonly Q: Tensor | null;
}

/**
 * One set per tie, so every graph variant binds the same arrays (the weights file and the fp16
 * store key weights by array).
 */
const graphCache = new WeakMap<TiedUnembed, TieGraphTensors>();

export function graphTensors(tie: TiedUnembed, d_model: number, d_vocab: number): TieGraphTensors {
  const hit = graphCache.get(tie);
  if (hit !== undefined) return hit;
  const ones = (n: number): Float64Array => new Float64Array(n).fill(1);
  const neg = (x: Float64Array): Float64Array => x.map((y) => -y);
  // Each term: its column of P (over d_model) and its row of Q (over the vocabulary).
  const terms: [Float64Array, Float64Array][] = [];
  if (tie.rowOffset !== null) terms.push([tie.scale ?? ones(d_model), tie.rowOffset]);
  if (tie.columnShift !== null) terms.push([ones(d_model), neg(tie.columnShift)]);
  if (tie.rowShift !== null) terms.push([neg(tie.rowShift), ones(d_vocab)]);
  const K = terms.length;
  const P = new Float32Array(d_model * K);
  const Q = new Float32Array(K * d_vocab);
  terms.forEach(([col, row], k) => {
    for (let m = 0; m < d_model; m++) P[m * K + k] = col[m]!;
    Q.set(row, k * d_vocab);
  });
  const made: TieGraphTensors = {
    scale: tie.scale === null ? null : { dims: [d_model], data: Float32Array.from(tie.scale) },
    P: K === 0 ? null : { dims: [d_model, K], data: P },
    Q: K === 0 ? null : { dims: [K, d_vocab], data: Q },
  };
  graphCache.set(tie, made);
  return made;
}
