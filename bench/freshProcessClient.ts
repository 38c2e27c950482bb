// Starts bench/freshProcess.ts for one model and reads its JSON line: the figures of a process
// that did nothing but load that model and run it, the way the PyTorch peer's process does.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { WeightDtype } from '../src/engine/model';

/** What a load alone reports (TOKENS 0). */
export interface FreshLoadResult {
  /** 'read' or 'written' through a processed-weights cache; 'processed' without one. */
  readonly weights_from: string;
  readonly load_s: number;
  /** RSS after load and a full garbage collection. */
  readonly loaded_mib: number;
  /** The high-water mark of loading alone. */
  readonly load_peak_mib: number;
}

export interface FreshProcessResult extends FreshLoadResult {
  /** The high-water mark of load and run together. */
  readonly run_peak_mib: number;
  /** The run's own high-water mark (reset after load): what the peer reports for its forward. */
  readonly run_only_peak_mib: number;
  /** RSS after the run, its logits dropped and both heaps collected. */
  readonly after_run_mib: number;
  /** Peak of the activation panel's first view (the worker's 'run' op), the high-water mark reset before it. */
  readonly first_view_peak_mib: number;
  readonly first_view_ms: number;
  /** The logit lens's first window (positions 0..40) after the first view, its own high-water mark. */
  readonly lens_peak_mib: number;
  readonly lens_window_ms: number;
  /** Direct logit attribution at position 20 after the lens, its own high-water mark. */
  readonly dla_peak_mib: number;
  readonly dla_ms: number;
  /** DLA at the last position after that (the whole forward when nothing is held). */
  readonly dla_last_peak_mib: number;
  readonly dla_last_ms: number;
  /** runWithCache of the panel's hooks: null where left out (runWithCache: false). */
  readonly panel_peak_mib: number | null;
  readonly run_ms: number;
  readonly panel_ms: number | null;
  readonly panel_mib: number | null;
}

export async function measureInFreshProcess(
  folder: string,
  dtype: WeightDtype,
  threads: number,
  tokens: number,
  opts: { processedCache?: string; timeoutMs?: number; runWithCache?: boolean } = {},
): Promise<FreshProcessResult> {
  return (await fresh(folder, dtype, threads, tokens, opts)) as FreshProcessResult;
}

/** A load alone in a fresh process (through `processedCache` when given: the first fills it). */
export async function loadInFreshProcess(
  folder: string,
  dtype: WeightDtype,
  threads: number,
  opts: { processedCache?: string; timeoutMs?: number } = {},
): Promise<FreshLoadResult> {
  return (await fresh(folder, dtype, threads, 0, opts)) as FreshLoadResult;
}

async function fresh(
  folder: string,
  dtype: WeightDtype,
  threads: number,
  tokens: number,
  opts: { processedCache?: string; timeoutMs?: number; runWithCache?: boolean },
): Promise<unknown> {
  const args = [join(__dirname, 'freshProcess.ts'), folder, dtype, String(threads), String(tokens)];
  if (opts.processedCache !== undefined) args.push(opts.processedCache);
  if (opts.runWithCache === false) args.push('--no-run-with-cache');
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', ...args], {
    maxBuffer: 1 << 20,
    timeout: opts.timeoutMs ?? 20 * 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as unknown;
}
