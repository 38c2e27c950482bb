// The command line's way to get a model: the same resolveModel, with a one-line progress bar
// on stderr (stdout stays clean for the command's own output) and Ctrl-C as cancel.

import { describeProgress, type DownloadProgress } from './progress';
import { resolveModel, type ResolvedModel, type ResolveModelOptions } from './resolveModel';

export interface CliResolveOptions extends Omit<ResolveModelOptions, 'onProgress' | 'signal'> {
  readonly stderr?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export async function resolveModelForCli(spec: string | undefined, opts: CliResolveOptions = {}): Promise<ResolvedModel> {
  const err = opts.stderr ?? process.stderr;
  const tty = err.isTTY === true;
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  let lastLine = 0;
  let drewBar = false;
  const onProgress = (p: DownloadProgress): void => {
    const now = Date.now();
    const finished = p.total !== undefined && p.bytes >= p.total;
    // On a terminal the bar redraws in place; in a log, one line every few seconds.
    if (!tty && !finished && now - lastLine < 5_000) return;
    lastLine = now;
    const line = `${bar(p, 24)} ${describeProgress(p)}`;
    if (tty) {
      const width = Math.max(20, (err.columns ?? 100) - 1);
      err.write(`\r${line.slice(0, width).padEnd(width)}`);
      drewBar = true;
    } else err.write(`${line}\n`);
  };
  try {
    const model = await resolveModel(spec, { ...opts, onProgress, signal: controller.signal });
    if (drewBar) {
      err.write('\n');
      drewBar = false;
    }
    if (model.isDemo) {
      err.write(`model-lens: using the built-in demo model (random weights, not GPT-2's): ${model.fallbackReason ?? ''}\n`);
    }
    return model;
  } finally {
    process.removeListener('SIGINT', onSigint);
    // End the redrawn line so whatever is printed next starts on its own.
    if (drewBar) err.write('\n');
  }
}

function bar(p: DownloadProgress, width: number): string {
  if (p.total === undefined || p.total === 0) return `[${'?'.repeat(width)}]`;
  const filled = Math.min(width, Math.round((p.bytes / p.total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor((p.bytes / p.total) * 100)).padStart(3)}%`;
}
