/**
 * Waiting on a condition instead of a sleep: the one helper every e2e, in-host and perf test
 * uses. A timeout here is a give-up point for a condition that never came, not a measurement:
 * on a loaded machine the condition comes later, and the test still passes.
 */
import { TimeoutError } from '../../src/common/errors';

export interface WaitOptions {
  /** Give up after this many milliseconds (default 20 s). */
  timeoutMs?: number;
  /** Milliseconds between probes (default 50). */
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns something other than `undefined` and resolves to that value;
 * rejects with a TimeoutError naming `what` when `timeoutMs` passes first. A probe that throws
 * rejects at once (a broken probe is a bug, not a condition still to come).
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 20000, intervalMs = 50 }: WaitOptions = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** waitUntil for a yes/no condition. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, opts?: WaitOptions): Promise<void> {
  await waitUntil(what, async () => ((await condition()) ? true : undefined), opts);
}
