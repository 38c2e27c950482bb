// The GPU check: per-hook parity of each GPU execution provider against the CPU one, and timings
// of run / runWithCache at 128 and 1,024 tokens on a GPT-2-small-shaped model. Bundled by
// test/gpu/pack.sh into one file that the carried node runs on a machine without Node or network;
// torch_ref.py then times PyTorch CUDA on the same weights and checks our logits against
// Hugging Face's. Runs on a CPU-only machine too (GPU providers then report their fallback).
//
//   node gpuCheck.js --work DIR [--out results.json] [--quick] [--readouts-only] [--readout-tokens N]
//
// --readouts-only skips the parity and the run/runWithCache timings and times only the panel's
// first view and the incremental step (readoutTimings.ts), over --readout-tokens ids (default
// 1,024; fewer where webgpu is a software adapter, which takes minutes a call at 1,024).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HookedGPT2, type ModelOptions } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import type { ExecutionProviderName, Tensor } from '../../src/engine/types';
import { readoutTimings, type ReadoutTimingRow } from './readoutTimings';

interface ParityRow {
  provider: ExecutionProviderName;
  mode: string;
  used: string;
  notice: string | null;
  hooks: number;
  worstHook: string;
  worstRelError: number;
  logitsRelError: number;
}

interface TimingRow {
  provider: string;
  tokens: number;
  what: string;
  medianMs: number;
  runs: number;
}

/** A panel's default view needs these (attention patterns, residual stream, MLP, final LN scale). */
export const PANEL_DEFAULT_NAMES = [
  'blocks.*.attn.hook_pattern',
  'blocks.*.hook_resid_post',
  'blocks.*.mlp.hook_post',
  'ln_final.hook_scale',
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** max|a-b| / max|b|, with -inf entries (masked scores) required to match exactly. */
function relError(a: Tensor, b: Tensor): number {
  if (a.data.length !== b.data.length) return Infinity;
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]!;
    const y = b.data[i]!;
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x !== y) return Infinity;
      continue;
    }
    diff = Math.max(diff, Math.abs(x - y));
    scale = Math.max(scale, Math.abs(y));
  }
  return diff / scale;
}

/** Seeded token ids (a fixed LCG), BOS first, so every provider and PyTorch see the same input. */
function seededTokens(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const out = [50256];
  while (out.length < n) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s % 50000);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => Promise<unknown>, runs: number): Promise<number> {
  await fn(); // warm-up: kernel compilation, allocator growth
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

async function parity(
  dir: string,
  provider: ExecutionProviderName,
  processing: boolean,
  optimization: 'basic' | 'all' = 'basic',
): Promise<ParityRow> {
  const opts: ModelOptions = { processing, use_attn_result: true, use_split_qkv_input: true, use_hook_mlp_in: true };
  const tokens = seededTokens(48, 7);
  const cpu = await HookedGPT2.fromPretrained(dir, { ...opts, device: 'cpu' });
  const gpu = await HookedGPT2.fromPretrained(dir, { ...opts, device: provider, optimization });
  try {
    const want = await cpu.runWithCache(tokens);
    const got = await gpu.runWithCache(tokens);
    let worstHook = '';
    let worst = 0;
    for (const name of want.cache.names()) {
      const e = relError(got.cache.get(name), want.cache.get(name));
      if (e >= worst) [worst, worstHook] = [e, name];
    }
    return {
      provider,
      mode: `${processing ? 'processed' : 'raw'}${optimization === 'all' ? ', opt all' : ''}`,
      used: gpu.provider,
      notice: gpu.notice,
      hooks: want.cache.names().length,
      worstHook,
      worstRelError: worst,
      logitsRelError: relError(got.logits, want.logits),
    };
  } finally {
    await cpu.dispose();
    await gpu.dispose();
  }
}

async function timings(
  dir: string,
  device: ExecutionProviderName,
  quick: boolean,
  work: string,
  optimization: 'basic' | 'all' = 'basic',
): Promise<TimingRow[]> {
  const rows: TimingRow[] = [];
  const model = await HookedGPT2.fromPretrained(dir, { device, optimization });
  try {
    for (const n of [128, 1024]) {
      const tokens = seededTokens(n, 11);
      writeFileSync(join(work, `tokens_${n}.json`), JSON.stringify(tokens));
      const runs = quick ? 2 : n >= 1024 ? 5 : 10;
      const label = optimization === 'all' ? `${model.provider} (opt all)` : model.provider;
      const add = (what: string, medianMs: number, r: number) => rows.push({ provider: label, tokens: n, what, medianMs, runs: r });
      add('run (logits)', await time(() => model.run(tokens), runs), runs);
      add("run (logitsAt 'last')", await time(() => model.run(tokens, { logitsAt: 'last' }), runs), runs);
      add('runWithCache (panel hooks)', await time(() => model.runWithCache(tokens, { names: PANEL_DEFAULT_NAMES }), runs), runs);
      const allRuns = Math.max(1, Math.floor(runs / 2));
      add('runWithCache (all hooks)', await time(() => model.runWithCache(tokens), allRuns), allRuns);
      if (n === 128 && optimization === 'basic') {
        // Our logits for torch_ref.py's Hugging Face parity check (compared as log-softmax, since
        // center_unembed shifts each position's logits by a constant).
        const logits = await model.run(tokens);
        writeFileSync(
          join(work, `logits_${device}_${n}.f32`),
          Buffer.from(logits.data.buffer, logits.data.byteOffset, logits.data.byteLength),
        );
      }
    }
  } finally {
    await model.dispose();
  }
  return rows;
}

async function main(): Promise<void> {
  const work = arg('--work') ?? 'gpu-work';
  const out = arg('--out');
  const quick = process.argv.includes('--quick');
  const readoutsOnly = process.argv.includes('--readouts-only');
  mkdirSync(work, { recursive: true });
  const tiny = join(work, 'tiny');
  await generateTinyGpt2(tiny, {});
  const small = join(work, 'gpt2-small-random');
  if (!quick) await generateTinyGpt2(small, { preset: 'gpt2-small' });
  const timingModel = quick ? tiny : small;

  const parityRows: ParityRow[] = [];
  for (const [provider, optimization] of readoutsOnly
    ? []
    : ([
        ['webgpu', 'basic'],
        ['webgpu', 'all'],
        ['cuda', 'basic'],
      ] as const)) {
    for (const processing of [true, false]) {
      try {
        parityRows.push(await parity(tiny, provider, processing, optimization));
      } catch (err) {
        console.error(`[gpu-check] parity on ${provider}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  console.log('\nPer-hook parity against the cpu provider (max|a-b| / max|b| per hook, all hooks incl. result and input hooks)');
  console.table(
    parityRows.map((r) => ({ ...r, worstRelError: r.worstRelError.toExponential(2), logitsRelError: r.logitsRelError.toExponential(2) })),
  );

  const timingRows: TimingRow[] = [];
  for (const [device, optimization] of readoutsOnly
    ? []
    : ([
        ['cpu', 'basic'],
        ['webgpu', 'basic'],
        ['webgpu', 'all'],
      ] as const)) {
    try {
      timingRows.push(...(await timings(timingModel, device, quick, work, optimization)));
    } catch (err) {
      console.error(`[gpu-check] timings on ${device}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  console.log(`\nTimings (${quick ? 'tiny model, quick' : 'GPT-2-small shape, fp32, random weights'}), median ms`);
  console.table(timingRows.map((r) => ({ ...r, medianMs: Number(r.medianMs.toFixed(1)) })));

  // The panel's first view and the incremental step at 1,024 tokens: webgpu as it is by default
  // (weights uploaded once, cache kept on the device) and as it was (weights.bin per session, cache
  // copied to the host each step); the CPU only in a quick run (it is the bench's business).
  const readoutIds = seededTokens(Number(arg('--readout-tokens') ?? 1024), 11);
  writeFileSync(join(work, `tokens_${readoutIds.length}.json`), JSON.stringify(readoutIds));
  const readoutRows: ReadoutTimingRow[] = [];
  const configs: ModelOptions[] = [
    { device: 'webgpu' },
    { device: 'webgpu', weightStorage: 'file', keepPastOnDevice: false },
    ...(quick ? [{ device: 'cpu' } as const] : []),
  ];
  for (const options of configs) {
    try {
      readoutRows.push(...(await readoutTimings(timingModel, readoutIds, options, quick ? 2 : 5)));
    } catch (err) {
      console.error(`[gpu-check] readout timings on ${options.device ?? 'cpu'}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  console.log(`\nPanel first view and incremental step (${quick ? 'tiny model, quick' : 'GPT-2-small shape'}), median and first call, ms`);
  console.table(readoutRows.map((r) => ({ ...r, medianMs: Number(r.medianMs.toFixed(1)), firstMs: Number(r.firstMs.toFixed(1)) })));
  const result = { date: new Date().toISOString(), parity: parityRows, timings: timingRows, readouts: readoutRows, timingModel };
  if (out) writeFileSync(out, JSON.stringify(result, null, 2));
  console.log(`GPU_CHECK_JSON ${JSON.stringify(result)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
