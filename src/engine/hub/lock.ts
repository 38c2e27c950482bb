// A lock file so two processes (two VS Code windows, the CLI beside the extension) fetching
// the same blob do one transfer. Python's huggingface_hub holds an flock on
// .locks/<repo>/<etag>.lock; Node has no flock without a native addon, so this lock is an
// exclusively created file beside it, kept fresh by a heartbeat so a crashed holder's lock
// goes stale instead of blocking forever. (Python and Model Lens fetching the same blob at the
// same instant is not coordinated; both write to their own temporary file and rename, so the
// worst case is a transfer done twice, never a corrupt blob.)
//
// Windows: deleting a file another process has open (a waiter reading the owner) leaves it
// "delete pending" until that handle closes, and creating it again meanwhile fails with EPERM,
// not EEXIST; so on win32 EPERM, EACCES and EBUSY from the create mean "held or being released,
// try again", a bounded number of times in a row before they are reported as the real
// permission problem they may be. Whether the owner is alive is asked the same way everywhere:
// process.kill(pid, 0) is Node's portable existence test (OpenProcess on Windows).

import { hostname } from 'node:os';
import { mkdir, open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { cancelledError, filesystemError } from './errors';

export interface LockOptions {
  readonly signal?: AbortSignal;
  /** Decides how a failed exclusive create is read (see the top of this file); tests pass it in. */
  readonly platform?: NodeJS.Platform;
  /** A lock whose heartbeat is older than this is taken to be abandoned. */
  readonly staleMs?: number;
  readonly pollMs?: number;
  /** Called once when the lock is held by someone else and we start waiting. */
  readonly onWait?: () => void;
}

export interface LockOwner {
  pid: number;
  host: string;
}

export async function acquireFileLock(path: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  const staleMs = opts.staleMs ?? 30_000;
  const pollMs = opts.pollMs ?? 200;
  const me: LockOwner = { pid: process.pid, host: hostname() };
  const platform = opts.platform ?? process.platform;
  let waited = false;
  let busyInARow = 0;
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
      const held = lockCreateFailure(err, platform);
      if (held === 'error' || (held === 'busy' && ++busyInARow > MAX_BUSY_IN_A_ROW)) {
        throw filesystemError('create the download lock', path, err);
      }
      if (held === 'exists') busyInARow = 0;
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

/** Polls in a row where Windows says "busy" before the create's error is reported (about 10 s at 200 ms). */
const MAX_BUSY_IN_A_ROW = 50;

/**
 * What a failed exclusive create of the lock file means: someone holds it ('exists'), it is being
 * deleted or read on Windows ('busy', see the top of this file), or a real error.
 */
export function lockCreateFailure(err: unknown, platform: NodeJS.Platform): 'exists' | 'busy' | 'error' {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EEXIST') return 'exists';
  if (platform === 'win32' && (code === 'EPERM' || code === 'EACCES' || code === 'EBUSY')) return 'busy';
  return 'error';
}

/**
 * Whether a lock is abandoned: its heartbeat stopped (any host), or its owner's process is gone
 * (same host only: a pid names nothing on another machine sharing the cache folder).
 */
export function lockIsStale(
  owner: Partial<LockOwner>,
  ageMs: number,
  staleMs: number,
  host: string,
  alive: (pid: number) => boolean = processAlive,
): boolean {
  if (ageMs > staleMs) return true;
  return owner.host === host && typeof owner.pid === 'number' && !alive(owner.pid);
}

async function isStale(path: string, staleMs: number, host: string): Promise<boolean> {
  try {
    const ageMs = Date.now() - (await stat(path)).mtimeMs;
    // An old heartbeat is enough, before reading: a holder that died between creating the file
    // and writing its owner left it empty.
    if (lockIsStale({}, ageMs, staleMs, host)) return true;
    const owner = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    return lockIsStale(owner, ageMs, staleMs, host);
  } catch {
    // Vanished (released) or half-written (being created): not stale, just try again.
    return false;
  }
}

/** Whether a process exists on this machine; EPERM means it does but is someone else's. */
export function processAlive(pid: number): boolean {
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
