// The command line's way to get a model: the same resolveModel, with a one-line progress bar
// on stderr (stdout stays clean for the command's own output) and Ctrl-C as cancel.

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeProgress, type DownloadProgress } from './progress';
import { resolveModel, type ResolvedModel, type ResolveModelOptions } from './resolveModel';

export interface CliResolveOptions extends Omit<ResolveModelOptions, 'onProgress' | 'signal'> {
  /** Where the progress bar goes (default: process.stderr). */
  readonly writeStderr?: (text: string) => void;
  /** Redraw one line in place (a terminal) instead of printing a line every few seconds (a log). */
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export async function resolveModelForCli(spec: string | undefined, opts: CliResolveOptions = {}): Promise<ResolvedModel> {
  const write = opts.writeStderr ?? ((t: string) => void process.stderr.write(t));
  const tty = opts.isTTY ?? process.stderr.isTTY === true;
  const columns = opts.columns ?? process.stderr.columns ?? 100;
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  let lastLine = 0;
  let drewBar = false;
  const onProgress = (p: DownloadProgress): void => {
    const now = Date.now();
    const finished = p.total !== undefined && p.bytes >= p.total;
    if (!tty && !finished && now - lastLine < 5_000) return;
    lastLine = now;
    const line = `${bar(p, 24)} ${describeProgress(p)}`;
    if (tty) {
      const width = Math.max(20, columns - 1);
      write(`\r${line.slice(0, width).padEnd(width)}`);
      drewBar = true;
    } else write(`${line}\n`);
  };
  try {
    const model = await resolveModel(cliSpec(spec, opts.cwd), { ...opts, onProgress, signal: controller.signal });
    if (model.isDemo) {
      endBar();
      write(
        model.source === 'demo'
          ? `model-lens: using the built-in demo model (random weights, not GPT-2)${model.fallbackReason ? `: ${model.fallbackReason}` : ''}\n`
          : `model-lens: ${model.folder} holds the generated demo GPT-2 (random weights, not GPT-2)\n`,
      );
    }
    return model;
  } finally {
    process.removeListener('SIGINT', onSigint);
    endBar();
  }

  function endBar(): void {
    if (drewBar) write('\n');
    drewBar = false;
  }
}

/**
 * On a command line people type paths: an existing folder wins over a Hub id of the same
 * spelling (as transformers' from_pretrained does), so `--model fixtures/tiny` stays a folder.
 */
function cliSpec(spec: string | undefined, cwd: string = process.cwd()): string | undefined {
  if (spec === undefined || spec.trim() === '') return spec;
  try {
    if (statSync(resolve(cwd, spec)).isDirectory()) return resolve(cwd, spec);
  } catch {
    // not a folder here: a Hub id, or a path the resolver will report as missing
  }
  return spec;
}

function bar(p: DownloadProgress, width: number): string {
  if (p.total === undefined || p.total === 0) return `[${'?'.repeat(width)}]`;
  const filled = Math.min(width, Math.round((p.bytes / p.total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor((p.bytes / p.total) * 100)).padStart(3)}%`;
}
