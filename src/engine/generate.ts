// Generation: the prompt runs once, then each new token runs alone against the key/value cache
// (src/engine/incremental.ts), so a step costs one position, not the whole sequence. Each token
// keeps what the model thought at its step (probability, rank, top 5; src/engine/sampler.ts).
// Stops at maxNewTokens, at <|endoftext|> (kept as the last token, as Hugging Face does), or
// when the sequence fills n_ctx.
import { abortError } from '../common/errors';
import { advanceCache } from './incremental';
import { KeyValueCache } from './kvCache';
import type { HookedGPT2 } from './model';
import { mulberry32 } from './prng';
import { checkSamplingOptions, sampleToken, type SampledToken, type SamplingOptions } from './sampler';

export const END_OF_TEXT = 50256;

export interface GenerateOptions extends SamplingOptions {
  /** At most this many new tokens (default 32); 0 returns none. */
  readonly maxNewTokens?: number;
  /** Seed of the sampling generator (default 0): same seed, same prompt, same options → same tokens. */
  readonly seed?: number;
  /** Stop after <|endoftext|> (default true). */
  readonly stopAtEndOfText?: boolean;
  readonly signal?: AbortSignal;
  /** Called with each token as soon as it is picked (streaming); a throw stops the generation. */
  readonly onToken?: (token: SampledToken, index: number) => void | Promise<void>;
}

export type StopReason = 'maxNewTokens' | 'endOfText' | 'contextFull';

export interface GenerateResult {
  readonly prompt: readonly number[];
  readonly tokens: readonly SampledToken[];
  readonly stop: StopReason;
}

/** Checks generation options before any work; throws a sentence naming the bad value. */
export function checkGenerateOptions(o: GenerateOptions): void {
  checkSamplingOptions(o);
  const max = o.maxNewTokens ?? 32;
  if (!Number.isInteger(max) || max < 0) throw new Error(`max new tokens must be a whole number ≥ 0, not ${max}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`the seed must be a whole number, not ${seed}`);
}

export async function generate(model: HookedGPT2, prompt: readonly number[], opts: GenerateOptions = {}): Promise<GenerateResult> {
  checkGenerateOptions(opts);
  if (prompt.length === 0) throw new Error('generation needs at least one prompt token (an empty text with BOS is [50256])');
  const nCtx = model.cfg.n_ctx;
  if (prompt.length > nCtx) throw new Error(`the prompt is ${prompt.length} tokens; ${model.cfg.model_name} reads at most n_ctx=${nCtx}`);
  const max = opts.maxNewTokens ?? 32;
  const random = mulberry32(opts.seed ?? 0);
  const stopAtEot = opts.stopAtEndOfText ?? true;
  const tokens: SampledToken[] = [];
  const seq = [...prompt];
  const cache = new KeyValueCache(model.cfg);
  try {
    for (;;) {
      if (tokens.length >= max) return { prompt, tokens, stop: 'maxNewTokens' };
      if (seq.length >= nCtx) return { prompt, tokens, stop: 'contextFull' };
      if (opts.signal?.aborted) throw abortError();
      const step = await advanceCache(model, cache, seq, opts.signal ? { signal: opts.signal } : {});
      const next = sampleToken(step.logits.data, opts, random);
      tokens.push(next);
      seq.push(next.id);
      await opts.onToken?.(next, tokens.length - 1);
      if (stopAtEot && next.id === END_OF_TEXT) return { prompt, tokens, stop: 'endOfText' };
    }
  } finally {
    cache.dispose();
  }
}
