// What the tensor view asks of a tensor, computed where the tensor lives (the engine worker) so
// that only small answers cross to the extension host: summary statistics and a histogram, a 2-D
// window of any slice, the tokens ranked along a vocabulary axis, and nearest tokens by cosine
// similarity. Sums run in float64, so a 38 M-element W_E has the same mean as a float64
// reference to float32 precision. No vscode, no onnxruntime.
import type { Tensor } from '../types';

export interface TensorStats {
  /** Elements in the tensor. */
  readonly count: number;
  readonly nan: number;
  readonly posInf: number;
  readonly negInf: number;
  /** Over the finite elements; NaN when there are none. */
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Unbiased (n - 1), as torch.Tensor.std() computes it; NaN for fewer than two finite elements. */
  readonly std: number;
}

export interface Histogram {
  /** The finite range the bins cover: bin i is [lo + i·w, lo + (i+1)·w), the last one closed. */
  readonly lo: number;
  readonly hi: number;
  readonly counts: Uint32Array;
}

/** Statistics of the finite elements and NaN/Inf counts, in two passes with float64 sums. */
export function tensorStats(data: Float32Array): TensorStats {
  let nan = 0;
  let posInf = 0;
  let negInf = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (x !== x) nan++;
    else if (x === Infinity) posInf++;
    else if (x === -Infinity) negInf++;
    else {
      if (x < min) min = x;
      if (x > max) max = x;
      sum += x;
    }
  }
  const finite = data.length - nan - posInf - negInf;
  const mean = finite > 0 ? sum / finite : NaN;
  let sq = 0;
  if (finite > 1) {
    for (let i = 0; i < data.length; i++) {
      const x = data[i]!;
      if (Number.isFinite(x)) sq += (x - mean) * (x - mean);
    }
  }
  return {
    count: data.length,
    nan,
    posInf,
    negInf,
    min: finite > 0 ? min : NaN,
    max: finite > 0 ? max : NaN,
    mean,
    std: finite > 1 ? Math.sqrt(sq / (finite - 1)) : NaN,
  };
}

/** Equal-width bins over [min, max] of the finite elements (one bin holding everything when min = max). */
export function histogram(data: Float32Array, stats: TensorStats, bins: number): Histogram {
  const n = Math.max(1, Math.floor(bins));
  const counts = new Uint32Array(n);
  if (!Number.isFinite(stats.min)) return { lo: 0, hi: 0, counts };
  const lo = stats.min;
  const hi = stats.max;
  const scale = hi > lo ? n / (hi - lo) : 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (!Number.isFinite(x)) continue;
    counts[Math.min(n - 1, Math.floor((x - lo) * scale))]!++;
  }
  return { lo, hi, counts };
}

/** Row-major strides of a shape. */
export function strides(dims: readonly number[]): number[] {
  const out = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) out[i] = out[i + 1]! * dims[i + 1]!;
  return out;
}

export interface SliceRequest {
  /** The axis drawn down the rows; null for a rank-0 or rank-1 tensor (one row). */
  readonly rowAxis: number | null;
  /** The axis drawn across; null only for a rank-0 tensor. */
  readonly colAxis: number | null;
  /** One index per axis; the row and column axes' entries are ignored. */
  readonly index: readonly number[];
  /** The window of the slice to return: rows [rowFrom, rowFrom + rowCount), same for columns. */
  readonly rowFrom: number;
  readonly rowCount: number;
  readonly colFrom: number;
  readonly colCount: number;
}

export interface Slice2D {
  /** The window actually returned (clamped to the tensor). */
  readonly rowFrom: number;
  readonly rows: number;
  readonly colFrom: number;
  readonly cols: number;
  /** The full slice's size along each axis, for scrolling. */
  readonly totalRows: number;
  readonly totalCols: number;
  readonly data: Float32Array; // [rows, cols]
}

function checkIndex(what: string, v: number, size: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= size) throw new Error(`${what} ${v} is out of range 0..${size - 1}`);
}

/** A window of the 2-D slice of `t` through `index` along (rowAxis, colAxis); throws naming a bad axis or index. */
export function slice2d(t: Tensor, req: SliceRequest): Slice2D {
  const rank = t.dims.length;
  const { rowAxis, colAxis } = req;
  if (rank === 0) {
    return { rowFrom: 0, rows: 1, colFrom: 0, cols: 1, totalRows: 1, totalCols: 1, data: Float32Array.of(t.data[0] ?? NaN) };
  }
  if (colAxis === null) throw new Error('a tensor of rank 1 or more needs a column axis');
  checkIndex('column axis', colAxis, rank);
  if (rowAxis !== null) {
    checkIndex('row axis', rowAxis, rank);
    if (rowAxis === colAxis) throw new Error(`row and column axes are both ${rowAxis}`);
  } else if (rank > 1) {
    throw new Error(`a tensor of rank ${rank} needs a row axis`);
  }
  if (req.index.length !== rank) throw new Error(`index has ${req.index.length} entries for a tensor of rank ${rank}`);
  const st = strides(t.dims);
  let base = 0;
  for (let a = 0; a < rank; a++) {
    if (a === rowAxis || a === colAxis) continue;
    checkIndex(`index on axis ${a}`, req.index[a]!, t.dims[a]!);
    base += req.index[a]! * st[a]!;
  }
  const totalRows = rowAxis === null ? 1 : t.dims[rowAxis]!;
  const totalCols = t.dims[colAxis]!;
  const rowFrom = Math.max(0, Math.min(Math.floor(req.rowFrom), Math.max(0, totalRows - 1)));
  const colFrom = Math.max(0, Math.min(Math.floor(req.colFrom), Math.max(0, totalCols - 1)));
  const rows = Math.max(0, Math.min(Math.floor(req.rowCount), totalRows - rowFrom));
  const cols = Math.max(0, Math.min(Math.floor(req.colCount), totalCols - colFrom));
  const rs = rowAxis === null ? 0 : st[rowAxis]!;
  const cs = st[colAxis]!;
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const rowBase = base + (rowFrom + r) * rs + colFrom * cs;
    for (let c = 0; c < cols; c++) data[r * cols + c] = t.data[rowBase + c * cs]!;
  }
  return { rowFrom, rows, colFrom, cols, totalRows, totalCols, data };
}

export interface RankedTokens {
  readonly topIds: Int32Array;
  readonly topValues: Float32Array;
  readonly bottomIds: Int32Array;
  readonly bottomValues: Float32Array;
}

/**
 * The tokens with the largest and smallest values along `vocabAxis`, every other axis fixed at
 * `index`: for W_E [d_vocab, d_model] and index [_, i], the tokens whose embedding has the most
 * of residual direction i; for W_U [d_model, d_vocab] and index [i, _], the tokens direction i
 * pushes up and down the most. NaN values rank nowhere.
 */
export function rankAlong(t: Tensor, vocabAxis: number, index: readonly number[], k: number): RankedTokens {
  const rank = t.dims.length;
  checkIndex('vocabulary axis', vocabAxis, rank);
  if (index.length !== rank) throw new Error(`index has ${index.length} entries for a tensor of rank ${rank}`);
  const st = strides(t.dims);
  let base = 0;
  for (let a = 0; a < rank; a++) {
    if (a === vocabAxis) continue;
    checkIndex(`index on axis ${a}`, index[a]!, t.dims[a]!);
    base += index[a]! * st[a]!;
  }
  const n = t.dims[vocabAxis]!;
  const step = st[vocabAxis]!;
  const values = new Float32Array(n);
  for (let v = 0; v < n; v++) values[v] = t.data[base + v * step]!;
  const top = topK(values, k, 1);
  const bottom = topK(values, k, -1);
  return { topIds: top.ids, topValues: top.values, bottomIds: bottom.ids, bottomValues: bottom.values };
}

/** The k largest (sign 1) or smallest (sign -1) finite values, ties broken by the lower id. */
export function topK(values: Float32Array, k: number, sign: 1 | -1, skip = -1): { ids: Int32Array; values: Float32Array } {
  const ids: number[] = [];
  for (let i = 0; i < values.length; i++) if (i !== skip && Number.isFinite(values[i]!)) ids.push(i);
  // A partial selection would be faster, but 50,257 entries sort in a few milliseconds in the worker.
  ids.sort((a, b) => sign * (values[b]! - values[a]!) || a - b);
  const kept = ids.slice(0, Math.max(0, Math.floor(k)));
  return { ids: Int32Array.from(kept), values: Float32Array.from(kept, (i) => values[i]!) };
}

/**
 * Cosine similarity of one token's vector with every token's, in a [tokens, d] matrix
 * (tokensOnRows: W_E) or a [d, tokens] one (W_U, whose columns are the unembedding vectors).
 * Accumulated in float64; a zero vector has similarity NaN (ranked nowhere).
 */
export function cosineToAll(m: Tensor, tokensOnRows: boolean, token: number): Float32Array {
  if (m.dims.length !== 2) throw new Error(`expected a matrix, got shape [${m.dims.join(', ')}]`);
  const [a, b] = m.dims as [number, number];
  const nTok = tokensOnRows ? a : b;
  const d = tokensOnRows ? b : a;
  checkIndex('token', token, nTok);
  // Element (token v, component j) of the matrix, as the two layouts store it.
  const tokStride = tokensOnRows ? d : 1;
  const compStride = tokensOnRows ? 1 : nTok;
  const x = m.data;
  const norms = new Float64Array(nTok);
  const dots = new Float64Array(nTok);
  const q = new Float64Array(d);
  for (let j = 0; j < d; j++) q[j] = x[token * tokStride + j * compStride]!;
  if (tokensOnRows) {
    for (let v = 0; v < nTok; v++) {
      let dot = 0;
      let nn = 0;
      const row = v * d;
      for (let j = 0; j < d; j++) {
        const e = x[row + j]!;
        dot += e * q[j]!;
        nn += e * e;
      }
      dots[v] = dot;
      norms[v] = nn;
    }
  } else {
    // Row by row of [d, tokens], so memory is read in order.
    for (let j = 0; j < d; j++) {
      const row = j * nTok;
      const qj = q[j]!;
      for (let v = 0; v < nTok; v++) {
        const e = x[row + v]!;
        dots[v]! += e * qj;
        norms[v]! += e * e;
      }
    }
  }
  const qn = Math.sqrt(norms[token]!);
  const out = new Float32Array(nTok);
  for (let v = 0; v < nTok; v++) out[v] = dots[v]! / (qn * Math.sqrt(norms[v]!));
  return out;
}

/** The k tokens nearest to `token` by cosine similarity (itself left out). */
export function nearestTokens(m: Tensor, tokensOnRows: boolean, token: number, k: number): { ids: Int32Array; cos: Float32Array } {
  const cos = cosineToAll(m, tokensOnRows, token);
  const r = topK(cos, k, 1, token);
  return { ids: r.ids, cos: r.values };
}

/**
 * One head's factored circuit as a full [d_model, d_model] matrix: OV = W_V[h] @ W_O[h]
 * ([d_model, d_head] @ [d_head, d_model]) or QK = W_Q[h] @ W_K[h]^T, TransformerLens's
 * `model.blocks[L].attn.OV[h]` / `.QK[h]` made dense. d_model² · d_head multiply-adds per head.
 */
export function headCircuit(which: 'OV' | 'QK', A: Tensor, B: Tensor, head: number): Tensor {
  // A: W_V or W_Q [head_index, d_model, d_head]; B: W_O [head_index, d_head, d_model] or W_K [head_index, d_model, d_head].
  const [H, d, dh] = A.dims as [number, number, number];
  checkIndex('head', head, H);
  const out = new Float32Array(d * d);
  const aBase = head * d * dh;
  const bBase = head * d * dh;
  const acc = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    acc.fill(0);
    for (let k = 0; k < dh; k++) {
      const a = A.data[aBase + i * dh + k]!;
      if (which === 'OV') {
        const row = bBase + k * d; // W_O[h, k, :]
        for (let j = 0; j < d; j++) acc[j]! += a * B.data[row + j]!;
      } else {
        for (let j = 0; j < d; j++) acc[j]! += a * B.data[bBase + j * dh + k]!; // W_K[h, j, k]
      }
    }
    for (let j = 0; j < d; j++) out[i * d + j] = acc[j]!;
  }
  return { dims: [d, d], data: out };
}
