// A full V8 garbage collection on demand, for memory reports that compare before and after (the
// Model view's memory line, the soak and panel-close tests), and once after a 16-bit model's load
// (model.ts: the float32 arrays it converted are dead, but nothing would prompt V8 to free them
// before the first run was over). Node exposes `gc` only with
// --expose-gc; setting the flag at run time and reading `gc` from a fresh context is the documented
// way to get it without restarting the process or the worker thread.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

/** Collects this thread's heap twice (the second pass frees what finalizers of the first released). */
export function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
}

/**
 * Collections 100 ms apart, three times, for a memory reading that does not count garbage: V8
 * frees a dead array buffer's memory on a background thread after the collection that found it,
 * so a reading right after one collection still counts it. For reports and measurements only
 * (the memory tests, the benches): it waits about 0.3 s.
 */
export async function settleGarbage(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
