// The shared cancellation and deadline errors (src/common/errors.ts): one name for a
// cancellation on every layer, recognised after the worker boundary strips the class.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abortError, isAbortError, isTimeoutError, throwIfAborted, TimeoutError } from '../../src/common/errors';

test('abortError is recognised by name, also once rebuilt as a plain object', () => {
  const e = abortError('the download');
  assert.equal(e.name, 'AbortError');
  assert.equal(e.message, 'the download was cancelled');
  assert.ok(isAbortError(e));
  assert.ok(isAbortError({ name: 'AbortError', message: 'from the worker' }));
  assert.ok(isAbortError(new DOMException('x', 'AbortError')));
  assert.ok(!isAbortError(new Error('the request was cancelled')));
  assert.ok(!isAbortError(undefined));
  assert.ok(!isAbortError(new TimeoutError('timed out')));
});

test('throwIfAborted throws only once the signal is aborted', () => {
  const ac = new AbortController();
  throwIfAborted(ac.signal, 'the run');
  throwIfAborted(undefined);
  ac.abort();
  assert.throws(
    () => throwIfAborted(ac.signal, 'the run'),
    (e: Error) => isAbortError(e) && e.message === 'the run was cancelled',
  );
});

test('TimeoutError is an Error named TimeoutError, not a cancellation', () => {
  const e = new TimeoutError('vocab/search timed out after 20 ms');
  assert.ok(e instanceof Error && e instanceof TimeoutError);
  assert.equal(e.name, 'TimeoutError');
  assert.ok(isTimeoutError(e) && isTimeoutError({ name: 'TimeoutError' }));
  assert.ok(!isAbortError(e) && !isTimeoutError(abortError()));
});
