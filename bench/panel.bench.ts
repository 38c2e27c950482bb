// Activation panel benchmarks without VS Code, on a GPT-2-small-shaped model (generateTinyGpt2
// preset 'gpt2-small', random weights) in a temp folder, on the CPU, through the real
// EngineClient and worker thread — the same path the panel controller takes:
//   - "first view": the panel's 'run' request (forward pass with the panel's hooks, loss, top-k,
//     thumbnails, residual norms, all in the worker) plus building the act/run message;
//     this is command → data ready for the first paint, without the webview's own paint.
//   - each view switch: the request that view makes (one head's pattern, one layer's neurons,
//     the logit lens, one DLA): the first time (which opens that readout's session) and again
//     with other parameters (another head, layer window, position: the session is reused);
//     each against the plain forward. Every view is its readout (kernels/readouts/) on the
//     forward graph fed the hook points the first view held, pruned to what its answer needs
//     beyond them (one layer for a pattern or neurons, no block for the lens and DLA).
//   - bytes crossing to the extension host per message (typed arrays' byteLength plus strings).
//   - extension-host heap held by the run message (heapUsed delta in this process).
// Peer: a plain forward pass (logits only) of the same tokens on the same worker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateTinyGpt2 } from '../src/engine/tinyGpt2';
import { EngineClient } from '../src/engine/worker/engineClient';
import type { PanelResult } from '../src/engine/worker/panelCompute';
import { tokenDisplay, tokenize } from '../src/tokenizer';
import { collectGarbage } from './procMemory';
import type { BenchRow } from './types';

const GROUP = 'panel';
const LENGTHS = (process.env.MODEL_LENS_PANEL_BENCH_LENGTHS ?? '128,1024').split(',').map(Number);

function bytesOf(r: PanelResult): number {
  let n = 0;
  for (const v of Object.values(r)) {
    if (ArrayBuffer.isView(v)) n += v.byteLength;
    else if (Array.isArray(v)) n += v.reduce((a: number, s: unknown) => a + (typeof s === 'string' ? s.length * 2 : 8), 0);
  }
  return n;
}

/** The process's RSS after a full collection of the worker's heap (the memory op) and this thread's. */
async function settledRssMiB(client: EngineClient): Promise<number> {
  collectGarbage();
  const m = await client.tensor({ op: 'memory', settle: true });
  return m.rss / 2 ** 20;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-panel-bench-'));
  const rows: BenchRow[] = [];
  const workerPath = join(__dirname, '..', 'dist', 'engineWorker.js');
  const client = new EngineClient({ workerPath });
  try {
    await generateTinyGpt2(dir, { preset: 'gpt2-small', seed: 1 });
    await client.load(dir, { device: 'cpu' });
    await client.run([50256, 464]); // the main session's first run grows its arena
    const words = tokenize('The quick brown fox jumps over the lazy dog, and then it rests in the shade. '.repeat(200)).map((t) => t.id);
    const idsOf = (n: number): number[] => [50256, ...words.slice(0, n - 1)];
    // Memory first, before any timing round: the plain forwards of the peer grow the main
    // session's arena (kept for the next run, by design), which is not the panel's memory.
    // Each reading follows a full garbage collection of both heaps (settledRssMiB), so garbage
    // not yet collected is not counted as held.
    const loaded = await settledRssMiB(client);
    rows.push({
      group: GROUP,
      name: 'process RSS with the model loaded',
      value: loaded,
      unit: 'MiB',
      note: 'before any panel run: the level a closed panel should return to (issue 11: ±50 MiB)',
    });
    for (const n of LENGTHS) {
      const r = await client.panel({ op: 'run', tokens: Int32Array.from(idsOf(n)), interventions: [], topK: 10, thumb: 24 });
      const afterFirst = await settledRssMiB(client);
      rows.push({
        group: GROUP,
        name: `process RSS after the panel's first view @${n}`,
        value: afterFirst,
        unit: 'MiB',
        note: `${(afterFirst - loaded).toFixed(0)} MiB above loaded (issue 11: at most 300 at 1,024 tokens); worker thread + host, one process`,
      });
      await client.panel({ op: 'release', runId: r.op === 'run' ? r.runId : 0 });
      const closed = await settledRssMiB(client);
      rows.push({
        group: GROUP,
        name: `process RSS after the panel closed @${n}`,
        value: closed,
        unit: 'MiB',
        note: `${(closed - loaded).toFixed(0)} MiB from loaded, after the release op (run state and readout sessions dropped)`,
      });
    }
    for (const n of LENGTHS) {
      const ids = idsOf(n);
      await client.run(ids.slice(0, 8)); // warm the session
      const [, plain] = await timed(() => client.run(ids));
      const heap0 = process.memoryUsage().heapUsed;
      const [summary, first] = await timed(async () => {
        const r = await client.panel({ op: 'run', tokens: Int32Array.from(ids), interventions: [], topK: 10, thumb: 24 });
        if (r.op !== 'run') throw new Error('unexpected reply');
        // What the controller adds before posting: display strings of tokens and top-k ids.
        const strings = new Set<number>([...ids, ...r.topIds]);
        const displays = [...strings].map((id) => tokenDisplay(id));
        return { r, displays };
      });
      const heapHeld = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
      const runId = summary.r.op === 'run' ? summary.r.runId : 0;
      const note = `${n} tokens, gpt2-small shape, CPU`;
      rows.push({
        group: GROUP,
        name: `command → first view data @${n}`,
        value: first,
        unit: 'ms',
        peer: { name: 'plain forward (logits only)', value: plain },
        speedup: plain / first,
        note,
      });
      rows.push({
        group: GROUP,
        name: `run message to host @${n}`,
        value: bytesOf(summary.r) / 2 ** 20,
        unit: 'MiB',
        note: 'typed arrays + label strings',
      });
      rows.push({
        group: GROUP,
        name: `host heap held by run message @${n}`,
        value: heapHeld,
        unit: 'MiB',
        note: 'heapUsed delta (typed arrays live outside the JS heap)',
      });
      const views: [string, () => Promise<PanelResult>][] = [
        ['attention: open one head', () => client.panel({ op: 'pattern', runId, layer: 5, head: 3 })],
        ['attention: another head, same layer (again)', () => client.panel({ op: 'pattern', runId, layer: 5, head: 7 })],
        ['neurons: one layer', () => client.panel({ op: 'neurons', runId, layer: 5, count: 32, neuron: null, from: 0, to: n })],
        [
          'neurons: same layer, one neuron (again)',
          () => client.panel({ op: 'neurons', runId, layer: 5, count: 32, neuron: 11, from: 0, to: n }),
        ],
        ['residual: DLA at one position', () => client.panel({ op: 'dla', runId, pos: n - 2, token: ids[n - 1]! })],
        ['residual: DLA at another position (again)', () => client.panel({ op: 'dla', runId, pos: n - 3, token: ids[n - 2]! })],
        // The panel asks for the visible window first (LENS_FIRST_WINDOW positions in
        // webview/activation/main.ts), then the next ones as the user scrolls; each window's
        // rows are kept, so the full lens afterwards unembeds only what is left.
        ['logit lens, first window (32 positions)', () => client.panel({ op: 'logitLens', runId, from: 0, to: Math.min(32, n) })],
        [
          'logit lens, next window (64 positions)',
          () => client.panel({ op: 'logitLens', runId, from: Math.min(32, n - 1), to: Math.min(96, n) }),
        ],
        ['logit lens, all remaining positions', () => client.panel({ op: 'logitLens', runId })],
      ];
      for (const [name, fn] of views) {
        const [r, ms] = await timed(fn);
        rows.push({
          group: GROUP,
          name: `view switch, ${name} @${n}`,
          value: ms,
          unit: 'ms',
          peer: { name: 'plain forward (logits only)', value: plain },
          speedup: plain / ms,
          note: `${(bytesOf(r) / 1024).toFixed(1)} KiB to host`,
        });
      }
      // The panel run again (a new ablation, the same tokens). Up to 256 tokens its readout
      // session is open now, so this is the forward with the first view's readouts against the
      // forward alone; above, the forward (no unembedding) builds a session of its own and
      // releases it after, so that no arena keeps every layer's patterns, and the loss, top-k and
      // rank are unembedded in windows of 128 positions in a kept session (HookedGPT2.readout):
      // the build is included.
      const [again, rerun] = await timed(() =>
        client.panel({ op: 'run', tokens: Int32Array.from(ids), interventions: [], topK: 10, thumb: 24 }),
      );
      const [, plainAgain] = await timed(() => client.run(ids));
      rows.push({
        group: GROUP,
        name: n > 256 ? `first view data again, forward's session built @${n}` : `first view data, session open @${n}`,
        value: rerun,
        unit: 'ms',
        peer: { name: 'plain forward (logits only)', value: plainAgain },
        speedup: plainAgain / rerun,
        note,
      });
      await client.panel({ op: 'release', runId: again.op === 'run' ? again.runId : runId });
      rows.push({
        group: GROUP,
        name: `process RSS after the timing rounds @${n}`,
        value: await settledRssMiB(client),
        unit: 'MiB',
        note: "panel closed; includes the main session's arena, grown by the peer's plain forwards",
      });
    }
  } finally {
    await client.dispose().catch(() => 0);
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
