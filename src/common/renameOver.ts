/**
 * Renaming a finished temporary file over its target, the last step of every atomic write (an
 * export, a safetensors file, a downloaded blob, a cache pointer). No `vscode` import.
 *
 * On POSIX systems the rename replaces the target even while someone has it open. Windows
 * refuses while another process holds the target (or the source) open without delete sharing:
 * a virus scanner or the search indexer looking at a file just written, an image viewer showing
 * the last export. The call then fails with EPERM, EACCES or EBUSY for a moment and succeeds
 * when the other handle closes, so on win32 those codes are retried a bounded number of times
 * with a growing pause (as graceful-fs and VS Code's own file service do). Elsewhere the same
 * codes mean a real permission problem and are thrown at once.
 */
import { rename as fsRename } from 'node:fs/promises';

/** Codes a Windows rename returns while another handle is open on the source or the target. */
const WINDOWS_BUSY_CODES: ReadonlySet<string> = new Set(['EPERM', 'EACCES', 'EBUSY']);

export interface RenameOverOptions {
  /** Decides whether busy codes are retried; tests pass it in. */
  readonly platform?: NodeJS.Platform;
  /** Retries after the first try (default 8: pauses of 10, 20, 40 … 1,280 ms, about 2.5 s in all). */
  readonly retries?: number;
  /** The first pause; each next one doubles. */
  readonly firstDelayMs?: number;
  /** The rename itself (default fs.promises.rename); tests wrap it to see each try. */
  readonly rename?: (from: string, to: string) => Promise<void>;
}

/** True when `err` is a rename that Windows may let through a moment later. */
export function isTransientRenameError(err: unknown, platform: NodeJS.Platform): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return platform === 'win32' && code !== undefined && WINDOWS_BUSY_CODES.has(code);
}

/**
 * Renames `from` over `to`, retrying a busy Windows target a bounded number of times. When every
 * try fails, the last error is thrown unchanged (its code and paths are the caller's to report).
 */
export async function renameOver(from: string, to: string, opts: RenameOverOptions = {}): Promise<void> {
  const platform = opts.platform ?? process.platform;
  const retries = opts.retries ?? 8;
  const rename = opts.rename ?? fsRename;
  let pause = opts.firstDelayMs ?? 10;
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (err) {
      if (attempt >= retries || !isTransientRenameError(err, platform)) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause *= 2;
  }
}
