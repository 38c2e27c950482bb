/**
 * The two ways work stops early, as errors every layer (engine, worker, CLI, extension, tests)
 * makes and recognises the same way. No `vscode` import: the engine and the CLI use it too.
 *
 * - Cancellation (the caller no longer wants the answer: a newer request, a closed panel, a
 *   dispose) is an Error whose `name` is 'AbortError', as `fetch` and Node's `AbortSignal` use.
 *   It is recognised by name, not class, because it crosses the worker boundary as a plain
 *   `{ name, message }` and is rebuilt on the other side.
 * - A deadline that passed is a TimeoutError: the caller still wanted the answer, so it is a
 *   failure to report (with what was waited for), never a quiet return.
 */

export const ABORT_ERROR_NAME = 'AbortError';

/** A cancellation error; `what` says what was cancelled (default: "the request"). */
export function abortError(what = 'the request'): Error {
  const e = new Error(`${what} was cancelled`);
  e.name = ABORT_ERROR_NAME;
  return e;
}

/** True for a cancellation from any layer: abortError(), AbortSignal's reason, a rebuilt worker error. */
export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === ABORT_ERROR_NAME;
}

/** Throws abortError(what) when `signal` is aborted: the check at each step of a long job. */
export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw abortError(what);
}

/** A deadline passed before the awaited thing happened; the message names what was awaited. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** True for a TimeoutError from any layer (by name, so it survives the worker boundary too). */
export function isTimeoutError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'TimeoutError';
}
