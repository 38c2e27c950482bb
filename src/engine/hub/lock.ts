// A lock file so two processes (two VS Code windows, the CLI beside the extension) fetching
// the same blob do one transfer. Python's huggingface_hub holds an flock on
// .locks/<repo>/<etag>.lock; Node has no flock without a native addon, so this lock is an
// exclusively created file beside it, kept fresh by a heartbeat so a crashed holder's lock
// goes stale instead of blocking forever. (Python and Model Lens fetching the same blob at the
// same instant is not coordinated; both write to their own temporary file and rename, so the
// worst case is a transfer done twice, never a corrupt blob.)

import { hostname } from 'node:os';
import { mkdir, open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { cancelledError, filesystemError } from './errors';

export interface LockOptions {
  readonly signal?: AbortSignal;
  /** A lock whose heartbeat is older than this is taken to be abandoned. */
  readonly staleMs?: number;
  readonly pollMs?: number;
  /** Called once when the lock is held by someone else and we start waiting. */
  readonly onWait?: () => void;
}

interface LockOwner {
  pid: number;
  host: string;
}

export async function acquireFileLock(path: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const staleMs = opts.staleMs ?? 30_000;
  const pollMs = opts.pollMs ?? 200;
  const me: LockOwner = { pid: process.pid, host: hostname() };
  let waited = false;
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (err) {
    throw filesystemError('create the lock folder', dirname(path), err);
  }
  for (;;) {
    if (opts.signal?.aborted) throw cancelledError('waiting for another download of the same file');
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(JSON.stringify(me));
      } finally {
        await fh.close();
      }
      const beat = setInterval(
        () => {
          const now = new Date();
          utimes(path, now, now).catch(() => undefined);
        },
        Math.max(50, Math.floor(staleMs / 3)),
      );
      beat.unref();
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        clearInterval(beat);
        await rm(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw filesystemError('create the download lock', path, err);
    }
    if (await isStale(path, staleMs, me.host)) {
      // Two waiters may both judge it stale; each then races on the exclusive create above,
      // so at most one wins.
      await rm(path, { force: true });
      continue;
    }
    if (!waited) {
      waited = true;
      opts.onWait?.();
    }
    await sleep(pollMs, opts.signal);
  }
}

async function isStale(path: string, staleMs: number, host: string): Promise<boolean> {
  try {
    const s = await stat(path);
    if (Date.now() - s.mtimeMs > staleMs) return true;
    const owner = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    if (owner.host === host && typeof owner.pid === 'number' && !processAlive(owner.pid)) return true;
    return false;
  } catch {
    // Vanished (released) or half-written (being created): not stale, just try again.
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolvePromise) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolvePromise();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
