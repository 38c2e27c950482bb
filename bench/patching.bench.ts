// Batched experiments on a GPT-2-small-shaped model (generateTinyGpt2 preset 'gpt2-small',
// random weights), CPU, in-process (HookedGPT2; the worker adds only messaging):
//   - 64 intervention sets (one head of hook_z zeroed per set, across the layers) on one
//     32-token prompt, metric only (logit difference, in the graph), against one plain forward
//     of that prompt (issue 11's target: at most 8×);
//   - a residual-stream patching sweep, 12 layers × 16 positions as one batched job
//     (runMetricBatch's chunks), against one patched forward × 192 (sequential cells, extrapolated
//     from one timed cell).
// MODEL_LENS_PATCHING_BENCH_PRESET=tiny runs the same rows on the tiny model (a quick check).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { defaultMaxBatch, runMetricBatch, type InterventionSet } from '../src/engine/batch';
import { activationPatching } from '../src/engine/experiments/patching';
import { HookedGPT2 } from '../src/engine/model';
import { generateTinyGpt2 } from '../src/engine/tinyGpt2';
import type { BenchRow } from './types';

const GROUP = 'patching';

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

export async function run(): Promise<BenchRow[]> {
  const preset = process.env.MODEL_LENS_PATCHING_BENCH_PRESET === 'tiny' ? 'tiny' : 'gpt2-small';
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-patching-bench-'));
  const rows: BenchRow[] = [];
  let model: HookedGPT2 | null = null;
  try {
    await generateTinyGpt2(dir, { preset, seed: 1 });
    model = await HookedGPT2.fromPretrained(dir, { device: 'cpu' });
    const m = model;
    const { n_layers, n_heads } = m.cfg;
    const prompt = Array.from({ length: 32 }, (_, i) => (i === 0 ? 50256 : 1000 + ((i * 7919) % 40000)));
    const metric = { kind: 'logitDiff', answer: 262, wrong: 290 } as const;
    const note = `${preset} shape, CPU, default threads; shared 2-core machine`;

    // 64 sets on one 32-token prompt, metric only.
    const zeros = new Map<number, { dims: number[]; data: Float32Array }>();
    const sets: InterventionSet[] = Array.from({ length: 64 }, (_, k) => {
      const L = k % n_layers;
      const z = zeros.get(L) ?? { dims: [1, 32, n_heads, m.cfg.d_head], data: new Float32Array(32 * n_heads * m.cfg.d_head) };
      zeros.set(L, z);
      return [{ hook: `blocks.${L}.attn.hook_z`, source: z, heads: [Math.floor(k / n_layers) % n_heads] }];
    });
    await m.run(prompt);
    await runMetricBatch(m, prompt, sets.slice(0, 2), metric); // build the session
    const [, forward] = await timed(() => m.run(prompt));
    const [, batched] = await timed(() => runMetricBatch(m, prompt, sets, metric));
    rows.push({
      group: GROUP,
      name: '64 intervention sets, 32 tokens, metric only',
      value: batched,
      unit: 'ms',
      peer: { name: 'one plain forward of the prompt', value: forward },
      speedup: forward / batched,
      note: `${(batched / forward).toFixed(1)}× one forward (target ≤ 8×); max batch ${defaultMaxBatch(m, 32, metric)}; ${note}`,
    });

    // 12 × 16 residual sweep as one batched job.
    const clean = prompt.slice(0, 16);
    const corrupted = [...clean];
    corrupted[5] = 5000;
    await activationPatching(m, { clean, corrupted, metric, sweep: 'resid_pre' }, { maxBatch: 2 }).catch(() => null); // warm
    const [res, sweep] = await timed(() => activationPatching(m, { clean, corrupted, metric, sweep: 'resid_pre' }));
    const mid = Math.floor(n_layers / 2);
    const { cache } = await m.runWithCache(clean, { names: [`blocks.${mid}.hook_resid_pre`] });
    const one = [
      { kind: 'patch', hook: `blocks.${mid}.hook_resid_pre`, source: cache.get(`blocks.${mid}.hook_resid_pre`), positions: [5] },
    ] as const;
    await m.runWithInterventions(corrupted, one);
    const [, cell] = await timed(() => m.runWithInterventions(corrupted, one));
    const cells = res.rows * res.cols;
    rows.push({
      group: GROUP,
      name: `resid_pre sweep ${res.rows} layers × ${res.cols} positions, one batched job`,
      value: sweep,
      unit: 'ms',
      peer: { name: `${cells} sequential patched forwards (one timed, × ${cells})`, value: cell * cells },
      speedup: (cell * cells) / sweep,
      note: `${cells} cells incl. clean cache + baselines; ${Math.ceil(cells / defaultMaxBatch(m, 16, metric))} session calls; ${note}`,
    });
  } finally {
    await model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
