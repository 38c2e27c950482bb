// Picks the next token from one row of logits: greedy at temperature 0, otherwise a draw from the
// softmax of logits / temperature restricted to the top k and the smallest top-p nucleus (the
// order Hugging Face's generate applies them: temperature, top-k, top-p). Every pick also reports
// what the model itself thought: the token's probability before temperature or truncation, its
// rank, and the five likeliest tokens.

export interface SamplingOptions {
  /** 0 = greedy (argmax, ties to the lower id); > 0 divides the logits. Default 1. */
  readonly temperature?: number;
  /** Keep the k likeliest tokens; 0 or absent = all. */
  readonly topK?: number;
  /** Keep the smallest set of likeliest tokens whose probability reaches p, in (0, 1]; absent or 1 = all. */
  readonly topP?: number;
}

export interface TokenAlternative {
  readonly id: number;
  /** The model's probability (softmax of the raw logits). */
  readonly prob: number;
}

export interface SampledToken {
  readonly id: number;
  /** The model's probability of this token at its step, before temperature or truncation. */
  readonly prob: number;
  /** 1 = the model's likeliest token. */
  readonly rank: number;
  /** The five likeliest tokens by the model's probability, likeliest first. */
  readonly top: readonly TokenAlternative[];
}

export const TOP_ALTERNATIVES = 5;

/** Checks sampling options, throwing a sentence that names the bad value. */
export function checkSamplingOptions(o: SamplingOptions): Required<SamplingOptions> {
  const temperature = o.temperature ?? 1;
  const topK = o.topK ?? 0;
  const topP = o.topP ?? 1;
  if (!Number.isFinite(temperature) || temperature < 0)
    throw new Error(`temperature must be a number ≥ 0 (0 = greedy), not ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`top-k must be a whole number ≥ 0 (0 = no limit), not ${topK}`);
  if (!Number.isFinite(topP) || topP <= 0 || topP > 1)
    throw new Error(`top-p must be in (0, 1] (1 = no limit; 0 would keep no token), not ${topP}`);
  return { temperature, topK, topP };
}

/** Softmax of `x / t` in float64, with the max subtracted. */
function softmax(x: ArrayLike<number>, t = 1): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  const out = new Float64Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const e = Math.exp((x[i]! - max) / t);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < x.length; i++) out[i] = out[i]! / sum;
  return out;
}

/** Indices of the n largest values, largest first (ties to the lower index); one pass. */
function topIndices(p: ArrayLike<number>, n: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < p.length; i++) {
    if (best.length === n && p[i]! <= p[best[n - 1]!]!) continue;
    let k = best.length === n ? n - 1 : best.length;
    while (k > 0 && p[best[k - 1]!]! < p[i]!) k--;
    best.splice(k, 0, i);
    if (best.length > n) best.pop();
  }
  return best;
}

/**
 * Picks one token from `logits` (one row, d_vocab_out values). `random` is a uniform [0, 1)
 * source (mulberry32 for seeded runs); greedy picks draw nothing from it.
 */
export function sampleToken(logits: ArrayLike<number>, options: SamplingOptions, random: () => number): SampledToken {
  const { temperature, topK, topP } = checkSamplingOptions(options);
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (Number.isNaN(v) || v === Infinity) throw new Error(`the model's logit for token ${i} is ${v}; cannot pick a next token`);
  }
  const probs = softmax(logits);
  const top = topIndices(probs, TOP_ALTERNATIVES);
  let id: number;
  if (temperature === 0) {
    id = top[0]!;
  } else {
    const scaled = temperature === 1 ? probs : softmax(logits, temperature);
    // Candidates likeliest first; top-k then top-p cut the list, and the draw renormalizes over what is left.
    const limit = topK > 0 ? Math.min(topK, scaled.length) : scaled.length;
    const order =
      limit <= 64
        ? topIndices(scaled, limit)
        : Array.from(scaled.keys())
            .sort((a, b) => scaled[b]! - scaled[a]! || a - b)
            .slice(0, limit);
    let kept = 0;
    let mass = 0;
    while (kept < order.length && (kept === 0 || mass < topP)) mass += scaled[order[kept++]!]!;
    const u = random() * mass;
    let acc = 0;
    id = order[kept - 1]!;
    for (let k = 0; k < kept; k++) {
      acc += scaled[order[k]!]!;
      if (u < acc) {
        id = order[k]!;
        break;
      }
    }
  }
  const p = probs[id]!;
  let rank = 1;
  for (let i = 0; i < probs.length; i++) if (probs[i]! > p || (probs[i] === p && i < id)) rank++;
  return { id, prob: p, rank, top: top.map((t) => ({ id: t, prob: probs[t]! })) };
}
