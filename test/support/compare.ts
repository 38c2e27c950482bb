/**
 * How tests compare numbers, in one place so every test states the same thing.
 *
 * relErr(actual, expected) = max_i |a_i - e_i| / max(max_i |e_i|, TINY), over the finite
 * entries of `expected`: the parity metric. Entries where `expected` is -inf (causally masked
 * attention scores) must be exactly -inf in `actual`; any other non-finite value, or a mismatch
 * in length, makes the error Infinity. One number per tensor: the error scaled by the tensor's
 * own magnitude, so a hook with large activations and one with small ones are held to the same
 * standard.
 *
 * maxAbsDiff(a, b) = max_i |a_i - b_i|, unscaled: for values whose scale is known (logits of
 * the same model on two paths). Different lengths throw, so `maxAbsDiff(...) > x` ("this really
 * changed") cannot pass on a shape mistake.
 */

export const TINY = 1e-30;

export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (e === -Infinity) {
      if (a !== -Infinity) return Infinity;
      continue;
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) return Infinity;
    maxDiff = Math.max(maxDiff, Math.abs(a - e));
    maxRef = Math.max(maxRef, Math.abs(e));
  }
  return maxDiff / Math.max(maxRef, TINY);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export interface HookError {
  readonly name: string;
  readonly err: number;
}

/** The hook with the largest error, for assertion messages. */
export function worst(errors: readonly HookError[]): HookError {
  return errors.reduce((a, b) => (b.err > a.err || Number.isNaN(b.err) ? b : a), { name: '(none)', err: 0 });
}
