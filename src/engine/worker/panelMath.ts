// Pure number crunching for the activation panel, run in the engine worker so only small
// summaries cross to the extension host: per-position loss and top-k, pooled attention
// thumbnails, residual norms, top neurons. No vscode, no onnxruntime.
import type { Tensor } from '../types';

export interface NextTokenStats {
  /** Cross-entropy of the actual next token at each position; NaN at the last position. [pos] */
  readonly loss: Float32Array;
  /** Top-k next-token ids per position, best first. [pos, k] */
  readonly topIds: Int32Array;
  /** Their probabilities. [pos, k] */
  readonly topProbs: Float32Array;
  /** Probability of the actual next token; NaN at the last position. [pos] */
  readonly nextProb: Float32Array;
  /** 1-based rank of the actual next token among all tokens; 0 at the last position. [pos] */
  readonly nextRank: Int32Array;
}

/** Softmax statistics of logits [1, pos, d_vocab] against the tokens that really follow. */
export function nextTokenStats(logits: Tensor, tokens: ArrayLike<number>, k: number): NextTokenStats {
  const V = logits.dims[logits.dims.length - 1]!;
  const pos = logits.data.length / V;
  const K = Math.max(1, Math.min(k, V));
  const loss = new Float32Array(pos).fill(NaN);
  const nextProb = new Float32Array(pos).fill(NaN);
  const nextRank = new Int32Array(pos);
  const topIds = new Int32Array(pos * K);
  const topProbs = new Float32Array(pos * K);
  const bestV = new Float64Array(K);
  const bestI = new Int32Array(K);
  for (let p = 0; p < pos; p++) {
    const base = p * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits.data[base + v]! > max) max = logits.data[base + v]!;
    let sum = 0;
    bestV.fill(-Infinity);
    bestI.fill(-1);
    for (let v = 0; v < V; v++) {
      const x = logits.data[base + v]!;
      sum += Math.exp(x - max);
      if (x > bestV[K - 1]!) {
        // insertion into the small sorted list; k is at most a few dozen
        let j = K - 1;
        while (j > 0 && bestV[j - 1]! < x) {
          bestV[j] = bestV[j - 1]!;
          bestI[j] = bestI[j - 1]!;
          j--;
        }
        bestV[j] = x;
        bestI[j] = v;
      }
    }
    const lse = max + Math.log(sum);
    for (let j = 0; j < K; j++) {
      topIds[p * K + j] = bestI[j]!;
      topProbs[p * K + j] = Math.exp(bestV[j]! - lse);
    }
    if (p + 1 < pos) {
      const next = tokens[p + 1]!;
      const x = logits.data[base + next]!;
      loss[p] = lse - x;
      nextProb[p] = Math.exp(x - lse);
      let rank = 1;
      for (let v = 0; v < V; v++) if (logits.data[base + v]! > x) rank++;
      nextRank[p] = rank;
    }
  }
  return { loss, topIds, topProbs, nextProb, nextRank };
}

/**
 * Every head's pattern [1, n_heads, pos, pos] pooled to [n_heads, t, t] by the mean over
 * blocks, written into `out` at `offset`: a thumbnail that keeps a 1024-token pattern's shape
 * in t² numbers.
 */
export function poolPatterns(pattern: Tensor, t: number, out: Float32Array, offset: number): void {
  const H = pattern.dims[1]!;
  const pos = pattern.dims[2]!;
  const cells = new Float32Array(t * t);
  const counts = new Float32Array(t * t);
  for (let h = 0; h < H; h++) {
    cells.fill(0);
    counts.fill(0);
    const base = h * pos * pos;
    for (let q = 0; q < pos; q++) {
      const tq = Math.floor((q * t) / pos);
      for (let k = 0; k < pos; k++) {
        const cell = tq * t + Math.floor((k * t) / pos);
        cells[cell]! += pattern.data[base + q * pos + k]!;
        counts[cell]! += 1;
      }
    }
    for (let c = 0; c < t * t; c++) out[offset + h * t * t + c] = counts[c]! > 0 ? cells[c]! / counts[c]! : 0;
  }
}

/** One head's pattern [query_pos, key_pos] copied out of hook_pattern [1, n_heads, pos, pos]. */
export function headPattern(pattern: Tensor, head: number): Float32Array {
  const pos = pattern.dims[2]!;
  return pattern.data.slice(head * pos * pos, (head + 1) * pos * pos);
}

/** L2 norm of each d_model vector of a stack [components, 1, pos, d_model]: [components, pos]. */
export function vectorNorms(stack: Tensor): Float32Array {
  const d = stack.dims[stack.dims.length - 1]!;
  const n = stack.data.length / d;
  const out = new Float32Array(n);
  for (let v = 0; v < n; v++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += stack.data[v * d + i]! ** 2;
    out[v] = Math.sqrt(s);
  }
  return out;
}

/**
 * The `n` neurons of hook_post [1, pos, d_mlp] with the largest activation anywhere in
 * positions [from, to), best first, and their activations at every position: [pos, n].
 */
export function topNeurons(post: Tensor, n: number, from: number, to: number): { ids: Int32Array; values: Float32Array } {
  const dMlp = post.dims[2]!;
  const pos = post.dims[1]!;
  const lo = Math.max(0, Math.min(from, pos - 1));
  const hi = Math.max(lo + 1, Math.min(to, pos));
  const peak = new Float32Array(dMlp).fill(-Infinity);
  for (let p = lo; p < hi; p++) {
    for (let i = 0; i < dMlp; i++) {
      const x = post.data[p * dMlp + i]!;
      if (x > peak[i]!) peak[i] = x;
    }
  }
  const order = Array.from({ length: dMlp }, (_, i) => i).sort((a, b) => peak[b]! - peak[a]! || a - b);
  const ids = Int32Array.from(order.slice(0, Math.min(n, dMlp)));
  const values = new Float32Array(pos * ids.length);
  for (let p = 0; p < pos; p++) for (let j = 0; j < ids.length; j++) values[p * ids.length + j] = post.data[p * dMlp + ids[j]!]!;
  return { ids, values };
}

/** One neuron's activation at every position of hook_post [1, pos, d_mlp]. */
export function neuronColumn(post: Tensor, neuron: number): Float32Array {
  const dMlp = post.dims[2]!;
  const pos = post.dims[1]!;
  const out = new Float32Array(pos);
  for (let p = 0; p < pos; p++) out[p] = post.data[p * dMlp + neuron]!;
  return out;
}

/**
 * Attention patterns of one layer kept for the panel: the causal lower triangle of each head
 * (q ≥ k) packed row after row, half the bytes of hook_pattern. The masked part of a causal
 * pattern is exactly 0 (softmax of -inf), so unpacking gives the same numbers back; a pattern
 * with anything else above the diagonal (a patched pattern) is kept whole.
 */
export interface HeldPattern {
  readonly n_heads: number;
  readonly pos: number;
  /** [n_heads, pos*(pos+1)/2] when `causal`, else [n_heads, pos, pos]. */
  readonly data: Float32Array;
  readonly causal: boolean;
}

/** Packs hook_pattern [1, n_heads, pos, pos] (see HeldPattern). */
export function packPattern(pattern: Tensor): HeldPattern {
  const H = pattern.dims[1]!;
  const pos = pattern.dims[2]!;
  const src = pattern.data;
  for (let h = 0; h < H; h++) {
    for (let q = 0; q < pos; q++) {
      const row = (h * pos + q) * pos;
      for (let k = q + 1; k < pos; k++) {
        if (src[row + k] !== 0) return { n_heads: H, pos, data: src.slice(), causal: false };
      }
    }
  }
  const tri = (pos * (pos + 1)) / 2;
  const data = new Float32Array(H * tri);
  for (let h = 0; h < H; h++) {
    let off = h * tri;
    for (let q = 0; q < pos; q++) {
      const row = (h * pos + q) * pos;
      data.set(src.subarray(row, row + q + 1), off);
      off += q + 1;
    }
  }
  return { n_heads: H, pos, data, causal: true };
}

/** One head's pattern [query_pos, key_pos] from a HeldPattern (zeros above the diagonal when packed). */
export function heldHeadPattern(p: HeldPattern, head: number): Float32Array {
  const pos = p.pos;
  if (!p.causal) return p.data.slice(head * pos * pos, (head + 1) * pos * pos);
  const out = new Float32Array(pos * pos); // [query_pos, key_pos]
  let off = head * ((pos * (pos + 1)) / 2);
  for (let q = 0; q < pos; q++) {
    out.set(p.data.subarray(off, off + q + 1), q * pos);
    off += q + 1;
  }
  return out;
}
