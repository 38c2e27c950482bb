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
