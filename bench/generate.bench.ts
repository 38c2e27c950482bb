// The incremental forward's benchmarks (issue 13), on the gpt2-small-shaped random checkpoint:
// - inline logits after appending 1 and 5 tokens to 1,000 tokens of context (the document's
//   key/value cache, advanceCache) against the full last-position forward of the same tokens;
// - greedy generation of 64 tokens after a 64-token prompt (generate on the key/value cache)
//   against PyTorch's cached generate loop (bench/torch_gpt2.py, as Hugging Face's generate with
//   use_cache=True), interleaved in one run with the same threads; the ids are compared too.
//
// Environment: MODEL_LENS_BENCH_THREADS (default 2, as the issue states), MODEL_LENS_BENCH_CACHE,
// MODEL_LENS_BENCH_PYTHON, MODEL_LENS_BENCH_GEN_REPS (default 3).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generate } from '../src/engine/generate';
import { advanceCache } from '../src/engine/incremental';
import { KeyValueCache } from '../src/engine/kvCache';
import { HookedGPT2 } from '../src/engine/model';
import { ensureTinyGpt2 } from '../src/engine/tinyGpt2';
import { TorchPeer } from './torchPeer';
import type { BenchRow } from './types';

const GROUP = 'incremental';

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Seeded token ids (an LCG), the same for both sides. */
function tokensOf(T: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: T }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a % 50257;
  });
}

async function time<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

export async function run(): Promise<BenchRow[]> {
  const threads = Number(process.env.MODEL_LENS_BENCH_THREADS) || 2;
  const reps = Number(process.env.MODEL_LENS_BENCH_GEN_REPS) || 3;
  const cacheDir = process.env.MODEL_LENS_BENCH_CACHE ?? join(tmpdir(), 'model-lens-bench');
  const folder = await ensureTinyGpt2(cacheDir, { preset: 'gpt2-small', tiedLmHead: true });
  const { peer, ready } = TorchPeer.start(folder, threads);
  const model = await HookedGPT2.fromPretrained(folder, { device: 'cpu', threads });
  const rows: BenchRow[] = [];
  try {
    await ready;
    // Inline logits: the cache covers 1,000 tokens; each rep drops the appended ones and appends again.
    const context = tokensOf(1005, 7);
    const cache = new KeyValueCache(model.cfg);
    await advanceCache(model, cache, context.slice(0, 1000));
    for (const added of [1, 5]) {
      const seq = context.slice(0, 1000 + added);
      await model.run(seq, { logitsAt: 'last' }); // warm both sessions
      await cache.truncateTo(1000);
      await advanceCache(model, cache, seq);
      const inc: number[] = [];
      const full: number[] = [];
      for (let r = 0; r < reps; r++) {
        await cache.truncateTo(1000);
        inc.push((await time(() => advanceCache(model, cache, seq))).ms);
        full.push((await time(() => model.run(seq, { logitsAt: 'last' }))).ms);
      }
      const ours = median(inc);
      const peerMs = median(full);
      rows.push({
        group: GROUP,
        name: `inline logits: +${added} token(s) after 1,000`,
        value: ours,
        unit: 'ms',
        peer: { name: `full last-position forward, ${1000 + added} tokens`, value: peerMs },
        speedup: peerMs / ours,
        note: `median of ${reps}; key/value cache ${(cache.bytes / 2 ** 20).toFixed(0)} MiB; ${threads} thread(s); target ≥ 10x`,
      });
    }
    cache.dispose();

    // Generation: 64 greedy tokens after a 64-token prompt, prefill included, both sides.
    const prompt = tokensOf(64, 11);
    await generate(model, prompt, { temperature: 0, maxNewTokens: 4, stopAtEndOfText: false });
    await peer.generate(prompt, 4, 120_000);
    const oursMs: number[] = [];
    const torchMs: number[] = [];
    let same = 0;
    let compared = 0;
    for (let r = 0; r < reps; r++) {
      const g = await time(() => generate(model, prompt, { temperature: 0, maxNewTokens: 64, stopAtEndOfText: false }));
      oursMs.push(g.ms);
      const t = await peer.generate(prompt, 64, 300_000);
      torchMs.push(t.ms);
      const ids = g.value.tokens.map((x) => x.id);
      // Agreement up to the first difference (after one, the sequences diverge by construction).
      let k = 0;
      while (k < ids.length && ids[k] === t.ids[k]) k++;
      same = k;
      compared = ids.length;
    }
    const ours = (64 * 1000) / median(oursMs);
    const torch = (64 * 1000) / median(torchMs);
    rows.push({
      group: GROUP,
      name: 'generate 64 tokens after 64, greedy',
      value: ours,
      unit: 'tok/s',
      peer: { name: 'PyTorch, key/value cache', value: torch },
      speedup: ours / torch,
      note: `median of ${reps}, prefill included; ${same}/${compared} ids equal to torch's before the first difference; ${threads} thread(s)`,
    });
  } finally {
    await model.dispose();
    await peer.close();
  }
  return rows;
}
