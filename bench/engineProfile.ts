// Where HookedGPT2's time and memory go, stage by stage, on the gpt2-small-shaped checkpoint the
// engine bench generates: read, processing, graph build, ONNX encoding, session creation, then
// one session run fetching logits only against one fetching every hook point (what runWithCache
// of everything costs beyond run). A diagnostic for engine work, not part of `npm run bench`:
//   node --import tsx bench/engineProfile.ts [tokens=128] [reps=3]
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadCheckpoint } from '../src/engine/checkpoint/load';
import { buildModelGraph, LOGITS_OUTPUT, TOKENS_INPUT } from '../src/engine/graph';
import { encodeModel } from '../src/engine/onnx/encode';
import { createSession, type HostTensor } from '../src/engine/ort/session';
import { processWeights } from '../src/engine/processing';
import { ensureTinyGpt2 } from '../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING } from '../src/engine/types';
import { collectGarbage, rssMiB } from './procMemory';

async function stage<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  const ms = performance.now() - t0;
  collectGarbage();
  console.log(`${name.padEnd(34)} ${ms.toFixed(0).padStart(7)} ms   RSS after ${rssMiB().toFixed(0)} MiB`);
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function main(): Promise<void> {
  const T = Number(process.argv[2] ?? 128);
  const reps = Number(process.argv[3] ?? 3);
  const threads = Number(process.env.MODEL_LENS_BENCH_THREADS) || availableParallelism();
  const folder = await ensureTinyGpt2(process.env.MODEL_LENS_BENCH_CACHE ?? join(tmpdir(), 'model-lens-bench'), {
    preset: 'gpt2-small',
    tiedLmHead: true,
  });
  console.log(`checkpoint ${folder}; ${T} tokens, ${reps} reps, ${threads} threads; RSS ${rssMiB().toFixed(0)} MiB`);
  const loaded = await stage('read safetensors', () => loadCheckpoint(folder));
  const processed = await stage('processing (fold/center)', () => processWeights(loaded.cfg, loaded.weights, DEFAULT_PROCESSING));
  const { graph } = await stage('graph build', () => buildModelGraph(processed.cfg, processed.weights));
  let bytes: Uint8Array | null = await stage('ONNX encode', () => encodeModel(graph));
  console.log(`  encoded model ${(bytes.byteLength / 2 ** 20).toFixed(0)} MiB`);
  const { session } = await stage('session creation', () => createSession(bytes!, { device: 'cpu', threads }));
  bytes = null;
  await stage('(encoded bytes dropped)', () => undefined);

  const ids = Array.from({ length: T }, (_, i) => (i * 7919 + 13) % 50257);
  const feeds: Record<string, HostTensor> = {
    [TOKENS_INPUT]: { type: 'int64', dims: [1, T], data: BigInt64Array.from(ids, (t) => BigInt(t)) },
  };
  const all = session.outputNames.filter((n) => n !== LOGITS_OUTPUT);
  const variants: [string, string[]][] = [
    ['run, fetch logits', [LOGITS_OUTPUT]],
    [`run, fetch logits + ${all.length} hooks`, [LOGITS_OUTPUT, ...all]],
  ];
  const times = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  for (let r = 0; r <= reps; r++) {
    for (const [name, fetch] of variants) {
      const t0 = performance.now();
      await session.run(feeds, fetch);
      if (r > 0) times.get(name)!.push(performance.now() - t0); // round 0 warms up
    }
  }
  for (const [name, ts] of times)
    console.log(
      `${name.padEnd(34)} ${median(ts).toFixed(0).padStart(7)} ms   (median of ${ts.length}: ${ts.map((t) => t.toFixed(0)).join(', ')})`,
    );
  await session.release();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
