// The incremental forward: only the new tokens run, attending over the keys and values of the
// tokens before them (a KeyValueCache's past). Logits and every hook at the new positions equal
// those of a full forward of the whole sequence (test/unit/kvCache.test.ts); hook_attn_scores and
// hook_pattern are [batch, head_index, new, past + new], as TransformerLens's with a past cache.
//
// Interventions must not depend on positions: the past was computed under them already, and a
// patch source or a per-position vector is indexed by absolute position, which the new tokens'
// run does not see. Those are refused with a specific error.
import { listHookPoints } from './hookPoints';
import type { Intervention } from './interventions';
import { commonPrefix, PastElsewhereError, type KeyValueCache, type PastKeyValues } from './kvCache';
import type { ForwardResult, HookFn, HookedGPT2, LogitsAt } from './model';
import type { HookedGPT2Config, NamesFilter, Tensor } from './types';

export interface IncrementalOptions {
  readonly names?: NamesFilter;
  readonly hooks?: readonly HookFn[];
  readonly interventions?: readonly Intervention[];
  readonly signal?: AbortSignal;
  /** 'last' (default) unembeds only the last new position; 'all' every new position. */
  readonly logitsAt?: LogitsAt;
}

export interface IncrementalResult {
  /** [1, new, d_vocab_out], or [1, 1, d_vocab_out] with logitsAt 'last'. */
  readonly logits: Tensor;
  /** Requested hooks at the new positions, by TransformerLens name. */
  readonly activations: ReadonlyMap<string, Tensor>;
  /** The past followed by the new tokens' keys and values. */
  readonly present: PastKeyValues;
}

/** Throws when an intervention depends on absolute positions (see the top of this file). */
export function checkIncrementalInterventions(cfg: HookedGPT2Config, interventions: readonly Intervention[]): void {
  const rank = new Map(listHookPoints(cfg).map((h) => [h.name, h.dims.length] as const));
  const perPosition = (hook: string, t: Tensor): boolean => t.dims.length === rank.get(hook) && (t.dims[1] ?? 1) !== 1;
  interventions.forEach((iv, i) => {
    const refuse = (why: string): never => {
      throw new Error(
        `intervention ${i} (${iv.kind}) ${why}; the incremental forward takes only interventions that apply alike at every position`,
      );
    };
    switch (iv.kind) {
      case 'patch':
      case 'patchEntries':
        return refuse('patches positions of another run');
      case 'addVector':
        if (iv.positions) refuse('is limited to some positions');
        if (perPosition(iv.hook, iv.vector)) refuse('has a vector per position');
        return;
      case 'ablateHeads':
        if (iv.mean && perPosition(`blocks.${iv.layer}.attn.hook_${iv.hook ?? 'z'}`, iv.mean)) refuse('has a mean per position');
        return;
      case 'ablateNeurons':
        if (iv.mean && perPosition(`blocks.${iv.layer}.mlp.hook_post`, iv.mean)) refuse('has a mean per position');
        return;
    }
  });
}

export async function forwardIncremental(
  model: HookedGPT2,
  newTokens: readonly number[],
  past: PastKeyValues,
  opts: IncrementalOptions = {},
): Promise<IncrementalResult> {
  checkIncrementalInterventions(model.cfg, opts.interventions ?? []);
  const r: ForwardResult = await model.forward(newTokens, {
    past,
    logitsAt: opts.logitsAt ?? 'last',
    ...(opts.names !== undefined ? { names: opts.names } : {}),
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ...(opts.interventions ? { interventions: opts.interventions } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (r.present === undefined) throw new Error('internal: an incremental forward returned no present keys and values');
  return { logits: r.logits, activations: r.activations, present: r.present };
}

export interface AdvanceResult extends IncrementalResult {
  /** Positions reused from the cache; the forward ran tokens.length − reused. */
  readonly reused: number;
}

/**
 * Brings `cache` to `tokens` and returns the forward of what was not cached: the cache keeps the
 * common prefix (an edit drops what follows the first changed token), and at least the last token
 * always runs so there are logits for it. The cache is truncated first and extended only when the forward succeeds.
 * The cache must have been filled under the same interventions (the caller keys caches by them).
 */
export async function advanceCache(
  model: HookedGPT2,
  cache: KeyValueCache,
  tokens: readonly number[],
  opts: IncrementalOptions = {},
): Promise<AdvanceResult> {
  return advanceCacheWith(cache, tokens, (fresh, past) => forwardIncremental(model, fresh, past, opts));
}

/**
 * advanceCache's bookkeeping around any incremental step `run` (a forward, or readouts on the
 * incremental graph): it keeps the common prefix, runs the rest (at least the last token), and
 * extends the cache with the step's present only when the step succeeds.
 */
export async function advanceCacheWith<R extends { readonly present: PastKeyValues }>(
  cache: KeyValueCache,
  tokens: readonly number[],
  run: (fresh: readonly number[], past: PastKeyValues) => Promise<R>,
): Promise<R & { readonly reused: number }> {
  if (tokens.length === 0) throw new Error('no tokens to run (an empty sequence)');
  const reused = Math.min(commonPrefix(cache.tokens, tokens), tokens.length - 1);
  await cache.truncateTo(reused);
  const fresh = tokens.slice(reused);
  try {
    const r = await cache.using(run(fresh, cache.past));
    cache.extend(fresh, r.present);
    return { ...r, reused };
  } catch (err) {
    if (!(err instanceof PastElsewhereError) || reused === 0) throw err;
    await cache.truncateTo(0);
    const r = await cache.using(run(tokens, cache.past));
    cache.extend(tokens, r.present);
    return { ...r, reused: 0 };
  }
}
