// The weight dtypes (ModelOptions.dtype, TransformerLens's `dtype`) against PyTorch computing in
// the same dtype, on gpt2-small's shape: a 4-token forward (an inline hint, a hover) and a
// 128-token one, each dtype's engine model and the peer's weights converted in place
// (torch_gpt2.py to_dtype, as from_pretrained(dtype=...) stores them). fp16 has no peer: this
// torch's CPU layer_norm has no float16 kernel. Also each dtype's new session variant with its
// first run (issue 12: under 0.5 s).
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HookedGPT2, type WeightDtype } from '../src/engine/model';
import { ensureTinyGpt2 } from '../src/engine/tinyGpt2';
import { loadAverageNow, loadAverageRow } from './machineLoad';
import { TorchPeer } from './torchPeer';
import type { BenchRow } from './types';

const GROUP = 'dtype';
const SIZES = [4, 128] as const;
const WARMUP = 1;
const REPS = 7;
const TORCH_DTYPE: Readonly<Record<WeightDtype, 'float32' | 'bfloat16' | null>> = { fp32: 'float32', bf16: 'bfloat16', fp16: null };

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Seeded token ids (as the engine bench makes them), BOS first. */
function tokensOf(T: number): number[] {
  let a = 0x9e3779b9;
  return Array.from({ length: T }, (_, i) => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return i === 0 ? 50256 : a % 50257;
  });
}

export async function run(): Promise<BenchRow[]> {
  const cacheDir = process.env.MODEL_LENS_BENCH_CACHE ?? join(tmpdir(), 'model-lens-bench');
  const threads = Number(process.env.MODEL_LENS_BENCH_THREADS) || availableParallelism();
  const loadStart = loadAverageNow();
  const folder = await ensureTinyGpt2(cacheDir, { preset: 'gpt2-small', tiedLmHead: true });
  const rows: BenchRow[] = [];
  const { peer, ready } = TorchPeer.start(folder, threads);
  const peerUp = await ready.then(
    () => '',
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );
  try {
    // fp32 first: the peer starts in float32 and is converted once, to bfloat16, before bf16.
    for (const dtype of ['fp32', 'fp16', 'bf16'] as const) {
      const torchDtype = peerUp === '' ? TORCH_DTYPE[dtype] : null;
      if (torchDtype === 'bfloat16') await peer.toDtype('bfloat16');
      console.error(
        `[dtype] ${dtype}: ${SIZES.join(' and ')} tokens, ${WARMUP} warm-up + ${REPS} runs each${torchDtype ? `, torch ${torchDtype}` : ''}`,
      );
      const model = await HookedGPT2.fromPretrained(folder, { device: 'cpu', threads, dtype });
      try {
        for (const T of SIZES) {
          const toks = tokensOf(T);
          const ours: number[] = [];
          const theirs: number[] = [];
          // Round-robin, so a burst of other load hits both sides alike.
          for (let round = 0; round < WARMUP + REPS; round++) {
            const t0 = performance.now();
            await model.run(toks);
            const ms = performance.now() - t0;
            const peerMs = torchDtype === null ? null : (await peer.forward(toks, false, 120_000)).ms;
            if (round < WARMUP) continue;
            ours.push(ms);
            if (peerMs !== null) theirs.push(peerMs);
          }
          const value = median(ours);
          const peerValue = theirs.length > 0 ? median(theirs) : null;
          rows.push({
            group: GROUP,
            name: `${dtype} forward (logits) ${T} tok`,
            value,
            unit: 'ms',
            ...(peerValue !== null ? { peer: { name: `torch ${torchDtype} forward`, value: peerValue }, speedup: peerValue / value } : {}),
            note:
              `median of ${REPS}; ours ${Math.min(...ours).toFixed(0)}–${Math.max(...ours).toFixed(0)} ms` +
              (torchDtype === null ? "; no torch peer: this torch's CPU layer_norm has no float16 kernel" : ''),
          });
        }
        // A variant the model has not made yet: its session, then its first run.
        const t0 = performance.now();
        await model.runWithCache(tokensOf(4), { names: ['blocks.5.hook_resid_post'] });
        rows.push({
          group: GROUP,
          name: `${dtype} new session variant + its first run (4 tok)`,
          value: performance.now() - t0,
          unit: 'ms',
          note: 'issue 12 target: under 500 ms',
        });
      } finally {
        await model.dispose();
      }
    }
  } finally {
    await peer.close();
  }
  if (peerUp !== '')
    rows.push({ group: GROUP, name: 'torch peer', value: Number.NaN, unit: '', note: `unavailable: ${peerUp.slice(0, 300)}` });
  rows.push(loadAverageRow(GROUP, loadStart));
  return rows;
}
