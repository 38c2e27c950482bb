// Makes it safe to end a worker thread that uses onnxruntime-node. Ending a thread
// (Worker.terminate) while it is inside one of onnxruntime-node's native calls aborts the whole
// process ("terminate called after throwing an instance of 'Napi::Error'", seen with 1.30 when a
// worker was ended mid-run), which in VS Code is the extension host. So each call into
// onnxruntime counts itself in a SharedArrayBuffer shared with the thread that may end this one;
// that thread first raises STOP, then waits (without blocking) until no call is in progress, and
// only then ends the thread. A call that starts after STOP never enters native code.
//
// The order of the two steps on each side is what makes it safe (sequentially consistent atomics):
// a call increments BUSY, then reads STOP; the owner writes STOP, then reads BUSY. Either the owner
// sees the call and waits for it, or the call sees STOP and parks.

/** Atomics.waitAsync (Node 16+), typed here because the project's lib predates ES2024. */
const waitAsync = (
  Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }
).waitAsync;

const BUSY = 0;
const STOP = 1;

/** The gate of this thread, when its owner installed one (the engine worker); null elsewhere. */
const gate: { cells: Int32Array | null } = { cells: null };

/** A gate's shared memory: made by the owner, passed to the worker in workerData. */
export function createNativeGate(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
}

/** In the worker thread: counts this thread's onnxruntime calls in `buffer`. */
export function installNativeGate(buffer: SharedArrayBuffer): void {
  gate.cells = new Int32Array(buffer);
}

/** Runs one call into onnxruntime under the gate. After the owner raised STOP it never settles. */
export async function gated<T>(call: () => Promise<T>): Promise<T> {
  const cells = gate.cells;
  if (cells === null) return call();
  Atomics.add(cells, BUSY, 1);
  if (Atomics.load(cells, STOP) !== 0) {
    leave(cells);
    return new Promise<T>(() => undefined); // the thread is being ended
  }
  try {
    return await call();
  } finally {
    leave(cells);
  }
}

function leave(cells: Int32Array): void {
  Atomics.sub(cells, BUSY, 1);
  Atomics.notify(cells, BUSY);
}

/**
 * In the owner: stops new calls and resolves once none is in progress, so the thread can be ended.
 * Waits without blocking this thread (Atomics.waitAsync); at most as long as the native call that
 * is running.
 */
export async function closeNativeGate(buffer: SharedArrayBuffer): Promise<void> {
  const cells = new Int32Array(buffer);
  Atomics.store(cells, STOP, 1);
  for (;;) {
    const busy = Atomics.load(cells, BUSY);
    if (busy === 0) return;
    const w = waitAsync(cells, BUSY, busy);
    if (w.async) await w.value;
  }
}
