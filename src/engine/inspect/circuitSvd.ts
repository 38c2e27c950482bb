// The singular directions of one head's factored circuit, OV = W_V[h]·W_O[h] or QK = W_Q[h]·W_K[h]ᵀ,
// and the tokens that read from and write to them: the "OV circuit" reading of TransformerLens and
// Anthropic's framework (input tokens through W_E, output tokens through W_U; for QK, query-side and
// key-side tokens both through W_E).
//
// Both circuits are M = A·Bᵀ with A, B of shape [d_model, d_head], so rank(M) ≤ d_head. Nothing of
// size d_model² is formed: thin QR of each factor (A = Qa·Ra, B = Qb·Rb) leaves M = Qa·(Ra·Rbᵀ)·Qbᵀ,
// and the SVD of the d_head × d_head core C = Ra·Rbᵀ = U·Σ·Vᵀ gives M's: left vectors Qa·U, right
// vectors Qb·V, the same σ. No SVD library is among the dependencies and a 64 × 64 core needs only a
// few dozen lines, so the core is done here with one-sided (Hestenes) Jacobi in float64, which is
// accurate to working precision for small singular values too. No vscode, no onnxruntime.
import type { Tensor } from '../types';
import { topK } from './tensorMath';

export interface CircuitSvd {
  /** σ₁ ≥ σ₂ ≥ …, the largest `k` (at most d_head). */
  readonly sigma: Float64Array;
  /** left[i]: the unit d_model vector u_i (the input side of OV, the query side of QK). */
  readonly left: Float64Array[];
  /** right[i]: the unit d_model vector v_i with M·v_i = σ_i·u_i (OV's output side, QK's key side). */
  readonly right: Float64Array[];
}

/**
 * Thin QR of a [n, m] row-major matrix (n ≥ m) by modified Gram–Schmidt with one re-orthogonalisation
 * pass (twice is enough for float64). A column that is (numerically) in the span of the earlier ones
 * gets a zero Q column and a zero R diagonal, so a rank-deficient factor still gives the right product.
 * Returns Q as m columns of length n and R as [m, m] row-major.
 */
export function thinQr(a: Float64Array, n: number, m: number): { q: Float64Array[]; r: Float64Array } {
  const q: Float64Array[] = [];
  const r = new Float64Array(m * m);
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
  for (let j = 0; j < m; j++) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = a[i * m + j]!;
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        const qp = q[p]!;
        let dot = 0;
        for (let i = 0; i < n; i++) dot += qp[i]! * v[i]!;
        r[p * m + j]! += dot;
        for (let i = 0; i < n; i++) v[i]! -= dot * qp[i]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[i]! * v[i]!;
    norm = Math.sqrt(norm);
    if (norm <= 1e-13 * scale * Math.sqrt(n)) {
      v.fill(0);
      r[j * m + j] = 0;
    } else {
      for (let i = 0; i < n; i++) v[i]! /= norm;
      r[j * m + j] = norm;
    }
    q.push(v);
  }
  return { q, r };
}

/**
 * SVD of a square [m, m] row-major matrix by one-sided Jacobi: rotate pairs of columns of W = C·V
 * until every pair is orthogonal; then σ_j = ‖W_j‖ and U_j = W_j / σ_j. Sorted by σ, largest first.
 * Returns U and V as m columns each.
 */
export function jacobiSvd(c: Float64Array, m: number): { sigma: Float64Array; u: Float64Array[]; v: Float64Array[] } {
  const w: Float64Array[] = Array.from({ length: m }, (_, j) => Float64Array.from({ length: m }, (_, i) => c[i * m + j]!));
  const v: Float64Array[] = Array.from({ length: m }, (_, j) => {
    const e = new Float64Array(m);
    e[j] = 1;
    return e;
  });
  const dot = (x: Float64Array, y: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < m; i++) s += x[i]! * y[i]!;
    return s;
  };
  const rotate = (x: Float64Array, y: Float64Array, cs: number, sn: number): void => {
    for (let i = 0; i < m; i++) {
      const a = x[i]!;
      const b = y[i]!;
      x[i] = cs * a - sn * b;
      y[i] = sn * a + cs * b;
    }
  };
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < m - 1; p++) {
      for (let q = p + 1; q < m; q++) {
        const alpha = dot(w[p]!, w[p]!);
        const beta = dot(w[q]!, w[q]!);
        const gamma = dot(w[p]!, w[q]!);
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        // The rotation that makes columns p and q orthogonal (Golub & Van Loan §8.6.3).
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cs = 1 / Math.sqrt(1 + t * t);
        const sn = cs * t;
        rotate(w[p]!, w[q]!, cs, sn);
        rotate(v[p]!, v[q]!, cs, sn);
      }
    }
    if (!rotated) break;
  }
  const sigma = w.map((col) => Math.sqrt(dot(col, col)));
  const order = sigma.map((_, j) => j).sort((a, b) => sigma[b]! - sigma[a]! || a - b);
  const u = order.map((j) => {
    const s = sigma[j]!;
    return s > 0 ? w[j]!.map((x) => x / s) : new Float64Array(m);
  });
  return { sigma: Float64Array.from(order, (j) => sigma[j]!), u, v: order.map((j) => v[j]!) };
}

/** Column combination: Σ_j coeffs[j]·cols[j] (Q·U for one column of U). */
function combine(cols: Float64Array[], coeffs: Float64Array): Float64Array {
  const out = new Float64Array(cols[0]?.length ?? 0);
  cols.forEach((col, j) => {
    const cj = coeffs[j]!;
    if (cj !== 0) for (let i = 0; i < out.length; i++) out[i]! += cj * col[i]!;
  });
  return out;
}

/** One head's [d_model, d_head] slice of a [head_index, ·, ·] weight, as float64, transposed when stored [d_head, d_model]. */
function headFactor(w: Tensor, head: number, transposed: boolean): { data: Float64Array; n: number; m: number } {
  const [H, r, c] = w.dims as [number, number, number];
  if (w.dims.length !== 3) throw new Error(`expected a [head_index, ·, ·] weight, got shape [${w.dims.join(', ')}]`);
  if (!Number.isInteger(head) || head < 0 || head >= H) throw new Error(`head ${head} is out of range 0..${H - 1}`);
  const base = head * r * c;
  if (!transposed) return { data: Float64Array.from(w.data.subarray(base, base + r * c)), n: r, m: c };
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = w.data[base + i * c + j]!;
  return { data: out, n: c, m: r };
}

/**
 * The top `k` singular values and vectors of a head's circuit. OV: first = W_V [H, d_model, d_head],
 * second = W_O [H, d_head, d_model]; QK: first = W_Q, second = W_K (both [H, d_model, d_head]).
 */
export function circuitSvd(which: 'OV' | 'QK', first: Tensor, second: Tensor, head: number, k: number): CircuitSvd {
  const a = headFactor(first, head, false);
  const b = headFactor(second, head, which === 'OV');
  if (a.n !== b.n || a.m !== b.m) throw new Error(`factor shapes differ: [${a.n}, ${a.m}] and [${b.n}, ${b.m}]`);
  const m = a.m;
  const qa = thinQr(a.data, a.n, m);
  const qb = thinQr(b.data, b.n, m);
  // C = Ra·Rbᵀ, d_head × d_head.
  const core = new Float64Array(m * m);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < m; t++) s += qa.r[i * m + t]! * qb.r[j * m + t]!;
      core[i * m + j] = s;
    }
  const svd = jacobiSvd(core, m);
  const n = Math.max(0, Math.min(m, Math.floor(k)));
  return {
    sigma: svd.sigma.slice(0, n),
    left: svd.u.slice(0, n).map((u) => combine(qa.q, u)),
    right: svd.v.slice(0, n).map((v) => combine(qb.q, v)),
  };
}

/**
 * Each token's dot product with `dir`: W_E [d_vocab, d_model] (tokensOnRows) or W_U [d_model, d_vocab]
 * (its columns), accumulated in float64. For W_U this is the logit a unit write along `dir` adds.
 */
export function tokenScores(m: Tensor, tokensOnRows: boolean, dir: Float64Array): Float64Array {
  if (m.dims.length !== 2) throw new Error(`expected a matrix, got shape [${m.dims.join(', ')}]`);
  const [r, c] = m.dims as [number, number];
  const d = tokensOnRows ? c : r;
  if (dir.length !== d) throw new Error(`direction has ${dir.length} components for a matrix with ${d}`);
  const nTok = tokensOnRows ? r : c;
  const out = new Float64Array(nTok);
  const x = m.data;
  if (tokensOnRows) {
    for (let v = 0; v < nTok; v++) {
      let s = 0;
      const row = v * d;
      for (let j = 0; j < d; j++) s += x[row + j]! * dir[j]!;
      out[v] = s;
    }
  } else {
    // Row by row of [d, tokens], so memory is read in order.
    for (let j = 0; j < d; j++) {
      const row = j * nTok;
      const dj = dir[j]!;
      for (let v = 0; v < nTok; v++) out[v]! += x[row + v]! * dj;
    }
  }
  return out;
}

export interface TokenPoles {
  /** The k tokens with the largest score along the direction, and the k with the smallest. */
  readonly topIds: Int32Array;
  readonly topValues: Float32Array;
  readonly bottomIds: Int32Array;
  readonly bottomValues: Float32Array;
}

/** The tokens at either end of `dir` in W_E (rows) or W_U (columns). */
export function tokensAlong(m: Tensor, tokensOnRows: boolean, dir: Float64Array, k: number): TokenPoles {
  const scores = Float32Array.from(tokenScores(m, tokensOnRows, dir));
  const top = topK(scores, k, 1);
  const bottom = topK(scores, k, -1);
  return { topIds: top.ids, topValues: top.values, bottomIds: bottom.ids, bottomValues: bottom.values };
}
