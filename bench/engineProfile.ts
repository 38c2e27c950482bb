// Where HookedGPT2.fromPretrained's time goes, stage by stage, on the gpt2-small-shaped checkpoint
// the engine bench generates: reading (loadCheckpoint: the file, the name/shape/NaN checks and the
// c_attn split), processing each block as it is read (processBlock, inside the read), processing
// the embeddings and unembedding (processWeights), then the graph build and session creation.
// Each load runs in a fresh process, as the bench's does (a second load in one process reuses
// pages the first touched, and a page's first touch is much of a load's cost on a small VM).
// A diagnostic for engine work, not part of `npm run bench`:
//   node --import tsx bench/engineProfile.ts [reps=3] [--no-processing]
import { execFileSync } from 'node:child_process';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadCheckpoint } from '../src/engine/checkpoint/load';
import { HookedGPT2 } from '../src/engine/model';
import { blockTensorsScanned, processBlock, processWeights, resolveProcessing } from '../src/engine/processing';
import { ensureTinyGpt2 } from '../src/engine/tinyGpt2';
import { peakRssMiB, rssMiB } from './procMemory';

const STAGES = [
  'read (loadCheckpoint less processBlock)',
  'processBlock (12 blocks)',
  'processWeights (embed/unembed)',
  'graph + session',
  'total',
];

async function folder(): Promise<string> {
  return ensureTinyGpt2(process.env.MODEL_LENS_BENCH_CACHE ?? join(tmpdir(), 'model-lens-bench'), {
    preset: 'gpt2-small',
    tiedLmHead: true,
  });
}

/** One load, its stages in ms, printed as JSON on stdout for the parent. */
async function child(processingOn: boolean): Promise<void> {
  const dir = await folder();
  const processing = resolveProcessing({ processing: processingOn });
  const threads = Number(process.env.MODEL_LENS_BENCH_THREADS) || availableParallelism();
  const t0 = performance.now();
  let blockMs = 0;
  const loaded = await loadCheckpoint(dir, {
    onBlockScans: (cfg) => blockTensorsScanned(cfg, processing),
    onBlock: (l, block, cfg, scan) => {
      const b0 = performance.now();
      const out = processBlock(cfg, block, l, processing, { inPlace: true, scan });
      blockMs += performance.now() - b0;
      return out;
    },
  });
  const t1 = performance.now();
  const processed = processWeights(loaded.cfg, loaded.weights, processing, { inPlace: true, blocksProcessed: true });
  const t2 = performance.now();
  const model = await HookedGPT2.fromWeights(processed.cfg, processed.weights, { device: 'cpu', threads });
  const t3 = performance.now();
  const ms = [t1 - t0 - blockMs, blockMs, t2 - t1, t3 - t2, t3 - t0];
  process.stdout.write(JSON.stringify({ ms, rss: rssMiB(), peak: peakRssMiB() }) + '\n');
  await model.dispose();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const processingOn = !args.includes('--no-processing');
  if (args.includes('--child')) return child(processingOn);
  const reps = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
  console.log(`checkpoint ${await folder()}; processing ${processingOn ? 'on' : 'off'}; ${reps} fresh processes`);
  console.log(
    `load average at start ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const runs: { ms: number[]; rss: number; peak: number }[] = [];
  for (let r = 0; r < reps; r++) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--child', ...(processingOn ? [] : ['--no-processing'])], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    runs.push(JSON.parse(out.trim().split('\n').pop()!) as { ms: number[]; rss: number; peak: number });
  }
  STAGES.forEach((name, i) => {
    const ts = runs.map((r) => r.ms[i]!);
    console.log(`${name.padEnd(40)} ${median(ts).toFixed(0).padStart(6)} ms   (${ts.map((t) => t.toFixed(0)).join(', ')})`);
  });
  console.log(
    `RSS after load ${median(runs.map((r) => r.rss)).toFixed(0)} MiB, peak ${median(runs.map((r) => r.peak)).toFixed(0)} MiB (medians)`,
  );
  console.log(
    `load average at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
