// gpt2-xl's shape (1.56 B parameters; a 6.4 GB checkpoint generated in the bench cache as the
// small shape is), measured where the engine bench only estimates it (issue 12: "if this machine's
// disk and memory allow, measured"): each in a process of its own, the engine in fp32 and in fp16
// (load, a 128-token forward, the activation panel's first view) and the PyTorch peer in fp32
// (load, the same forward). Several minutes, 7 GB of disk and about 10 GiB of memory, so it runs
// only when asked: MODEL_LENS_BENCH_XL=1 npm run bench -- xl.
import { statfsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism, freemem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureTinyGpt2 } from '../src/engine/tinyGpt2';
import { measureInFreshProcess } from './freshProcessClient';
import { TorchPeer } from './torchPeer';
import type { BenchRow } from './types';
import { loadAverageNow, loadAverageRow } from './machineLoad';

const GROUP = 'xl';
const TOKENS = 128;
/** What the checkpoint (with its causal-mask buffers) and the largest process need, with room. */
const NEEDS = { diskBytes: 7.5e9, memoryBytes: 12 * 2 ** 30 };

/** A row's comparison with the PyTorch peer's figure, when the peer gave one. */
function vsTorch(value: number, peerValue: number | undefined, name: string): Partial<BenchRow> {
  return peerValue === undefined ? {} : { peer: { name, value: peerValue }, speedup: peerValue / value };
}

function skipped(why: string): BenchRow[] {
  return [{ group: GROUP, name: 'gpt2-xl shape', value: Number.NaN, unit: '', note: `skipped: ${why}` }];
}

/** Reads `path` once to the end, 64 MiB at a time, keeping nothing: its pages are then in the page cache. */
async function readThrough(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(64 * 2 ** 20);
    while ((await handle.read(chunk, 0, chunk.length, null)).bytesRead > 0);
  } finally {
    await handle.close();
  }
}

export async function run(): Promise<BenchRow[]> {
  if (process.env.MODEL_LENS_BENCH_XL !== '1')
    return skipped('set MODEL_LENS_BENCH_XL=1 (minutes, a 6.4 GB checkpoint, about 10 GiB of memory)');
  const cacheDir = process.env.MODEL_LENS_BENCH_CACHE ?? join(tmpdir(), 'model-lens-bench');
  const threads = Number(process.env.MODEL_LENS_BENCH_THREADS) || availableParallelism();
  const loadStart = loadAverageNow();
  const rows: BenchRow[] = [];
  const disk = statfsSync(tmpdir());
  if (disk.bavail * disk.bsize < NEEDS.diskBytes) return skipped(`less than ${NEEDS.diskBytes / 1e9} GB of free disk for the checkpoint`);
  const t0 = performance.now();
  const folder = await ensureTinyGpt2(cacheDir, { preset: 'gpt2-xl', tiedLmHead: true });
  console.error(`[xl] checkpoint ${folder} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  if (freemem() < NEEDS.memoryBytes)
    return skipped(`${(freemem() / 2 ** 30).toFixed(1)} GiB of free memory, under ${NEEDS.memoryBytes / 2 ** 30}`);

  // Both read the checkpoint from the page cache, whichever goes first (6.4 GB: a cold read here
  // took the peer 50 s, and the engine after it a fraction of that).
  await readThrough(join(folder, 'model.safetensors'));
  console.error(`[xl] PyTorch peer: load and a ${TOKENS}-token forward`);
  const tokens = Array.from({ length: TOKENS }, (_, i) => (i * 7919 + 13) % 50257);
  const { peer, ready } = TorchPeer.start(folder, threads);
  let torch: { load_s: number; loaded_mib: number; peak_mib: number } | null = null;
  let peerError = '';
  try {
    const { load_s } = await ready;
    const info = await peer.info();
    const forward = await peer.forward(tokens, false, 600_000);
    torch = { load_s, loaded_mib: info.rss_mib, peak_mib: forward.peak_rss_mib };
  } catch (e) {
    peerError = e instanceof Error ? e.message : String(e);
  } finally {
    await peer.close();
  }

  for (const dtype of ['fp32', 'fp16'] as const) {
    console.error(`[xl] engine ${dtype}: load, a ${TOKENS}-token forward and the panel's first view`);
    const r = await measureInFreshProcess(folder, dtype, threads, TOKENS, { runWithCache: false, timeoutMs: 30 * 60_000 });
    rows.push({
      group: GROUP,
      name: `gpt2-xl shape ${dtype}: resident after load`,
      value: r.loaded_mib,
      unit: 'MiB',
      ...vsTorch(r.loaded_mib, torch?.loaded_mib, 'torch fp32 after load'),
      note: `loading's own peak ${r.load_peak_mib.toFixed(0)} MiB; the weights are ${dtype === 'fp32' ? '5,942' : '2,971'} MiB (1.56 B × ${dtype === 'fp32' ? 4 : 2} bytes)`,
    });
    rows.push({
      group: GROUP,
      name: `gpt2-xl shape ${dtype}: peak resident, a ${TOKENS}-token forward (logits of every position)`,
      value: r.run_only_peak_mib,
      unit: 'MiB',
      ...vsTorch(r.run_only_peak_mib, torch?.peak_mib, 'torch fp32 forward'),
      note: `the high-water mark reset after load in both; ${(r.run_ms / 1000).toFixed(1)} s`,
    });
    rows.push({
      group: GROUP,
      name: `gpt2-xl shape ${dtype}: load → ready, first time (processed in the process)`,
      value: r.load_s,
      unit: 's',
      ...vsTorch(r.load_s, torch?.load_s, 'torch fp32 read + tensors'),
      note: 'the engine reads and processes (fold_ln, centring); the peer only reads',
    });
    rows.push({
      group: GROUP,
      name: `gpt2-xl shape ${dtype}: peak resident, the activation panel's first view of the ${TOKENS} tokens`,
      value: r.first_view_peak_mib,
      unit: 'MiB',
      note: `${(r.first_view_ms / 1000).toFixed(1)} s; then the lens's first window ${r.lens_peak_mib.toFixed(0)} MiB, DLA ${r.dla_peak_mib.toFixed(0)} MiB`,
    });
  }
  if (torch === null)
    rows.push({ group: GROUP, name: 'torch peer', value: Number.NaN, unit: '', note: `unavailable: ${peerError.slice(0, 300)}` });
  rows.push(loadAverageRow(GROUP, loadStart));
  return rows;
}
