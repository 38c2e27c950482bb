// Head detectors as TransformerLens defines them (transformer_lens/head_detector.py@v3.5.1):
// a 0/1 detection pattern [query_pos, key_pos] per kind of head, and the "mul" score: the share of
// the head's attention that falls on the pattern, sum(A ∘ D) / sum(A). Written from that file's
// definitions (previous-token: the subdiagonal; duplicate-token: earlier positions holding the
// same token; induction: the position after an earlier copy of the current token), not copied.
// The attention patterns come from one run (batched when long); the scores are small sums in JS.
import { abortError } from '../../common/errors';
import { END_OF_TEXT_ID } from '../../tokenizer';
import type { HookedGPT2 } from '../model';

export type HeadKind = 'previous_token_head' | 'duplicate_token_head' | 'induction_head';
export const HEAD_KINDS: readonly HeadKind[] = ['previous_token_head', 'duplicate_token_head', 'induction_head'];

export interface DetectOptions {
  /** TransformerLens's exclude_bos: attention to position 0 counts neither in the overlap nor the total. */
  readonly excludeBos?: boolean;
  /** TransformerLens's exclude_current_token: the diagonal is zeroed likewise. */
  readonly excludeCurrentToken?: boolean;
  readonly signal?: AbortSignal;
}

export interface HeadScores {
  readonly tokens: readonly number[];
  readonly n_layers: number;
  readonly n_heads: number;
  /** Per kind: [n_layers × n_heads], row-major (layer, head), each in [0, 1]. */
  readonly scores: Readonly<Record<HeadKind, Float32Array>>;
}

/** The detection pattern [P × P] (row = query, column = key), lower-triangular 0/1. */
export function detectionPattern(kind: HeadKind, tokens: readonly number[]): Uint8Array {
  const P = tokens.length;
  const d = new Uint8Array(P * P);
  for (let q = 0; q < P; q++) {
    for (let k = 0; k <= q; k++) {
      let on: boolean;
      if (kind === 'previous_token_head') on = k === q - 1;
      // The same token at an earlier position (a token is not its own duplicate).
      else if (kind === 'duplicate_token_head') on = k < q && tokens[k] === tokens[q];
      // The duplicate pattern shifted one key to the right, first column cleared, kept lower-triangular.
      else on = k >= 1 && k - 1 < q && tokens[k - 1] === tokens[q];
      d[q * P + k] = on ? 1 : 0;
    }
  }
  return d;
}

/** The "mul" score of one head's pattern A [P × P] against D: sum(A ∘ D) / sum(A), after the exclusions. */
export function mulScore(
  A: ArrayLike<number>,
  D: Uint8Array,
  P: number,
  opts: Pick<DetectOptions, 'excludeBos' | 'excludeCurrentToken'> = {},
): number {
  let hit = 0;
  let total = 0;
  for (let q = 0; q < P; q++) {
    for (let k = 0; k < P; k++) {
      if ((opts.excludeBos && k === 0) || (opts.excludeCurrentToken && k === q)) continue;
      const a = A[q * P + k]!;
      total += a;
      if (D[q * P + k]) hit += a;
    }
  }
  return hit / total;
}

/** Pattern bytes fetched per call: layers are read in groups so a long sequence never holds every pattern at once. */
const PATTERN_BYTES_PER_CALL = 64 * 2 ** 20;

/** Scores every head of every layer for each kind on one token sequence (TransformerLens's detect_head, for all heads). */
export async function detectHeads(
  model: HookedGPT2,
  tokens: readonly number[],
  kinds: readonly HeadKind[] = HEAD_KINDS,
  opts: DetectOptions = {},
): Promise<HeadScores> {
  const { n_layers, n_heads, n_ctx } = model.cfg;
  const P = tokens.length;
  // detect_head asserts 1 < seq_len < n_ctx.
  if (P < 2 || P >= n_ctx) throw new Error(`head detection needs 2..${n_ctx - 1} tokens; this sequence has ${P}`);
  const patterns = new Map(kinds.map((k) => [k, detectionPattern(k, tokens)] as const));
  const scores = Object.fromEntries(HEAD_KINDS.map((k) => [k, new Float32Array(n_layers * n_heads).fill(-1)])) as Record<
    HeadKind,
    Float32Array
  >;
  const perLayer = n_heads * P * P * 4;
  const group = Math.max(1, Math.floor(PATTERN_BYTES_PER_CALL / perLayer));
  for (let lo = 0; lo < n_layers; lo += group) {
    if (opts.signal?.aborted) throw abortError();
    const layers = Array.from({ length: Math.min(group, n_layers - lo) }, (_, i) => lo + i);
    const names = layers.map((L) => `blocks.${L}.attn.hook_pattern`);
    const { cache } = await model.runWithCache(tokens, { names, ...(opts.signal ? { signal: opts.signal } : {}) });
    for (const L of layers) {
      const A = cache.get(`blocks.${L}.attn.hook_pattern`).data; // [1, n_heads, P, P]
      for (let h = 0; h < n_heads; h++) {
        const head = A.subarray(h * P * P, (h + 1) * P * P);
        for (const [kind, D] of patterns) scores[kind][L * n_heads + h] = mulScore(head, D, P, opts);
      }
    }
  }
  return { tokens, n_layers, n_heads, scores };
}

/**
 * The standard induction test: BOS, then `seqLen` random tokens, then the same tokens again
 * (TransformerLens's demos' generate_repeated_tokens), drawn from 0..d_vocab-1 by mulberry32
 * from `seed`, so the sequence replays.
 */
export function repeatedRandomTokens(seed: number, seqLen: number, d_vocab: number): number[] {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const half = Array.from({ length: seqLen }, () => Math.floor(uniform() * d_vocab));
  return [END_OF_TEXT_ID, ...half, ...half];
}
