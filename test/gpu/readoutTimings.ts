// The GPU check's timings of the two paths issue 11 and 13 ask about on a device, at 1,024 tokens:
//   - the activation panel's first view (handlePanelOp 'run': the forward with the panel's
//     readouts appended, only their answers fetched), cold (its session opened) and warm;
//   - the incremental path: +1 token after 1,000 cached (advanceCache, logits of the last
//     position) and the inline-logits readout on the same cache (top-5 only), the cache's
//     truncation back to 1,000 left out of the timing;
//   - issue 11's batched primitive: 64 intervention sets (one head of hook_z zeroed per set, across
//     the layers, as bench/patching.bench.ts does on the CPU) on one 32-token prompt, metric only,
//     against one plain forward of that prompt on the same provider (target ≤ 8×).
// Each provider row says where the weights and the cache live (docs/GPU.md); torch_ref.py times
// PyTorch CUDA on the same ids and prints the comparison table.
import { performance } from 'node:perf_hooks';
import { nextToken } from '../../kernels/readouts/nextToken';
import { runMetricBatch, type InterventionSet } from '../../src/engine/batch';
import { advanceCache, advanceCacheWith } from '../../src/engine/incremental';
import { KeyValueCache } from '../../src/engine/kvCache';
import { HookedGPT2, type ModelOptions } from '../../src/engine/model';
import { handlePanelOp } from '../../src/engine/worker/panelCompute';

export interface ReadoutTimingRow {
  /** Provider, weight storage and cache location, e.g. "webgpu (weights device, cache gpu-buffer)". */
  provider: string;
  tokens: number;
  what: string;
  medianMs: number;
  /** The first call (sessions opened, kernels compiled). */
  firstMs: number;
  runs: number;
}

/** What each row of the table is called; torch_ref.py tells the panel and forward rows from the +1 rows by these. */
export const READOUT_ROWS = {
  plain: "forward, logitsAt 'last'",
  panel: 'panel first view (readouts)',
  step: (past: number) => `+1 token after ${past} (advanceCache)`,
  inline: (past: number) => `+1 token after ${past} (inline top-5 readout)`,
  sweepForward: 'sweep peer: forward of the 32-token prompt',
  sweep: 'sweep: 64 intervention sets, metric only',
} as const;

async function timeRuns(
  fn: () => Promise<unknown>,
  runs: number,
  before?: () => Promise<unknown>,
): Promise<{ first: number; median: number }> {
  const once = async (): Promise<number> => {
    await before?.();
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  const first = await once();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push(await once());
  ms.sort((a, b) => a - b);
  return { first, median: ms[Math.floor(ms.length / 2)]! };
}

/**
 * Times the panel's first view over `tokens` (1,024 on the GPU) and the incremental step after all
 * but the last 24 of them (1,000). Runs `runs` warm repetitions after the first call of each.
 */
export async function readoutTimings(
  dir: string,
  tokens: readonly number[],
  options: ModelOptions,
  runs: number,
): Promise<ReadoutTimingRow[]> {
  const n = tokens.length;
  const past = n - 24; // 1,000 of 1,024
  const rows: ReadoutTimingRow[] = [];
  const model = await HookedGPT2.fromPretrained(dir, options);
  try {
    const cache = new KeyValueCache(model.cfg);
    const signal = new AbortController().signal;
    try {
      await advanceCache(model, cache, tokens.slice(0, past));
      const placement = model.weightPlacement;
      const label = `${model.provider} (weights ${placement.storage}, cache ${cache.location})`;
      const add = (what: string, t: { first: number; median: number }, tokensRun = n): void => {
        console.error(`[gpu-check] ${label} | ${what}: first ${t.first.toFixed(1)} ms, median ${t.median.toFixed(1)} ms`);
        rows.push({
          provider: label,
          tokens: tokensRun,
          what,
          medianMs: t.median,
          firstMs: t.first,
          runs,
        });
      };
      add(READOUT_ROWS.plain, await timeRuns(() => model.run(tokens, { logitsAt: 'last' }), runs));
      add(
        READOUT_ROWS.panel,
        await timeRuns(async () => {
          const r = await handlePanelOp(
            model,
            { op: 'run', tokens: Int32Array.from(tokens), interventions: [], topK: 10, thumb: 24 },
            signal,
          );
          // Drop the run's held state, keep the sessions: the next call is a warm first view.
          if (r.op === 'run') model.runs.release(r.runId);
        }, runs),
      );
      const seq = tokens.slice(0, past + 1);
      const back = (): Promise<void> => cache.truncateTo(past);
      add(READOUT_ROWS.step(past), await timeRuns(() => advanceCache(model, cache, seq), runs, back), past + 1);
      const top5 = nextToken(5, null);
      add(
        READOUT_ROWS.inline(past),
        await timeRuns(() => advanceCacheWith(cache, seq, (fresh, p) => model.readoutIncremental(fresh, p, [top5])), runs, back),
        past + 1,
      );
    } finally {
      cache.dispose();
    }
    const { n_layers, n_heads, d_head } = model.cfg;
    const prompt = tokens.slice(0, 32);
    const zeros = { dims: [1, 32, n_heads, d_head], data: new Float32Array(32 * n_heads * d_head) };
    const sets: InterventionSet[] = Array.from({ length: 64 }, (_, k) => [
      { hook: `blocks.${k % n_layers}.attn.hook_z`, source: zeros, heads: [Math.floor(k / n_layers) % n_heads] },
    ]);
    const metric = { kind: 'logitDiff', answer: 262, wrong: 290 } as const;
    const label = `${model.provider} (weights ${model.weightPlacement.storage})`;
    for (const [what, fn] of [
      [READOUT_ROWS.sweepForward, () => model.run(prompt)],
      [READOUT_ROWS.sweep, () => runMetricBatch(model, prompt, sets, metric)],
    ] as const) {
      const t = await timeRuns(fn, runs);
      console.error(`[gpu-check] ${label} | ${what}: first ${t.first.toFixed(1)} ms, median ${t.median.toFixed(1)} ms`);
      rows.push({ provider: label, tokens: 32, what, medianMs: t.median, firstMs: t.first, runs });
    }
  } finally {
    await model.dispose();
  }
  return rows;
}
