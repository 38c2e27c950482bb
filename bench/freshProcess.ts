// One model measured in a process of its own (bench/medium.bench.ts and bench/engine.bench.ts start
// it), so the peak resident memory it reports is this configuration's alone, as the PyTorch peer's
// is: load, one forward of TOKENS tokens (logits of every position), the activation panel's first
// view of the same tokens (released after), then runWithCache of the panel's hooks.
//   node --import tsx bench/freshProcess.ts FOLDER fp32|fp16|bf16 THREADS [TOKENS=1024] [PROCESSED_CACHE_DIR] [--no-run-with-cache]
// TOKENS 0 loads only. PROCESSED_CACHE_DIR: load through the processed-weights cache there.
// --no-run-with-cache: leave out the last step (its figures are null), 18-30 s at gpt2-medium's shape.
// Prints one JSON line: load_s, RSS after load, the peak RSS of load + run, the run's own peak (the
// high-water mark reset after load, as the peer resets it before its forward), RSS after the run,
// the first view's peak, then the peak of the logit lens's first window and of DLA at position 20
// and at the last position after it,
// runWithCache's peak, and their times.
import { performance } from 'node:perf_hooks';
import { HookedGPT2, type WeightDtype } from '../src/engine/model';
import { handlePanelOp } from '../src/engine/worker/panelCompute';
import { PANEL_NAMES } from './engine.bench';
import { collectGarbage, peakRssMiB, resetPeakRss, rssMiB } from './procMemory';

async function main(): Promise<void> {
  const withRunWithCache = !process.argv.includes('--no-run-with-cache');
  const [folder, dtype, threads, count, processedCache] = process.argv.slice(2).filter((a) => !a.startsWith('--')) as [
    string,
    WeightDtype,
    string,
    string | undefined,
    string | undefined,
  ];
  let t0 = performance.now();
  const model = await HookedGPT2.fromPretrained(folder, {
    device: 'cpu',
    threads: Number(threads),
    dtype,
    ...(processedCache ? { processedWeightsCache: processedCache } : {}),
  });
  const loadS = (performance.now() - t0) / 1000;
  // With a processed-weights cache: 'read' (ready-processed weights, as the extension's every load
  // after the first) or 'written'; without one, processed here.
  const weightsFrom = (await model.processedCacheState)?.state ?? 'processed';
  collectGarbage();
  const loadedMiB = rssMiB();
  const loadPeakMiB = peakRssMiB();
  if (Number(count) === 0) {
    // Load only (TOKENS = 0): to fill the processed-weights cache, or to measure a load alone.
    await model.dispose();
    console.log(JSON.stringify({ load_s: loadS, loaded_mib: loadedMiB, load_peak_mib: loadPeakMiB, weights_from: weightsFrom }));
    return;
  }
  resetPeakRss();
  const tokens = Array.from({ length: Number(count ?? 1024) }, (_, i) => (i * 7919 + 13) % 50257);
  t0 = performance.now();
  await model.run(tokens);
  const runMs = performance.now() - t0;
  // Load + run's peak, then the panel hooks' own (its returned activations alone are about 2 GB at 1,024 tokens).
  const runOnlyPeakMiB = peakRssMiB();
  const runPeakMiB = Math.max(loadPeakMiB, runOnlyPeakMiB);
  collectGarbage();
  const afterRunMiB = rssMiB();
  resetPeakRss();
  // The activation panel's first view as the worker computes it (loss, top-k, thumbnails, norms,
  // the held hook points), then released as a closed panel releases it.
  t0 = performance.now();
  const view = { op: 'run', tokens: Int32Array.from(tokens), interventions: [], topK: 10, thumb: 24 } as const;
  const summary = await handlePanelOp(model, view, new AbortController().signal);
  const firstViewMs = performance.now() - t0;
  const firstViewPeakMiB = peakRssMiB();
  // The detail views that read held hook points: the logit lens's first window and one DLA. Over
  // the first view's hold budget (panelCompute.ts) each holds its hooks with a forward when first asked.
  if (summary.op !== 'run') throw new Error('internal: the first view did not answer a run');
  resetPeakRss();
  t0 = performance.now();
  await handlePanelOp(model, { op: 'logitLens', runId: summary.runId, from: 0, to: 40 }, new AbortController().signal);
  const lensMs = performance.now() - t0;
  const lensPeakMiB = peakRssMiB();
  resetPeakRss();
  t0 = performance.now();
  await handlePanelOp(model, { op: 'dla', runId: summary.runId, pos: 20, token: tokens[21]! }, new AbortController().signal);
  const dlaMs = performance.now() - t0;
  const dlaPeakMiB = peakRssMiB();
  // DLA at the last position: over the hold budget, without interventions, the whole forward again.
  resetPeakRss();
  t0 = performance.now();
  const last = tokens.length - 1;
  await handlePanelOp(model, { op: 'dla', runId: summary.runId, pos: last, token: tokens[0]! }, new AbortController().signal);
  const dlaLastMs = performance.now() - t0;
  const dlaLastPeakMiB = peakRssMiB();
  await handlePanelOp(model, { op: 'release' }, new AbortController().signal);
  collectGarbage();
  const panel = withRunWithCache ? await panelHooks(model, tokens) : null;
  const out = {
    weights_from: weightsFrom,
    load_s: loadS,
    loaded_mib: loadedMiB,
    load_peak_mib: loadPeakMiB,
    run_peak_mib: runPeakMiB,
    run_only_peak_mib: runOnlyPeakMiB,
    after_run_mib: afterRunMiB,
    first_view_peak_mib: firstViewPeakMiB,
    first_view_ms: firstViewMs,
    lens_window_ms: lensMs,
    dla_ms: dlaMs,
    lens_peak_mib: lensPeakMiB,
    dla_peak_mib: dlaPeakMiB,
    dla_last_ms: dlaLastMs,
    dla_last_peak_mib: dlaLastPeakMiB,
    panel_peak_mib: panel?.peakMiB ?? null,
    run_ms: runMs,
    panel_ms: panel?.ms ?? null,
    panel_mib: panel?.mib ?? null,
  };
  await model.dispose();
  console.log(JSON.stringify(out));
}

/** runWithCache of the panel's hooks: its peak resident memory (high-water mark reset first), time and the activations it returns. */
async function panelHooks(model: HookedGPT2, tokens: number[]): Promise<{ peakMiB: number; ms: number; mib: number }> {
  resetPeakRss();
  const t0 = performance.now();
  const panel = await model.runWithCache(tokens, { names: PANEL_NAMES });
  const ms = performance.now() - t0;
  let bytes = 0;
  for (const name of panel.cache.names()) bytes += panel.cache.get(name).data.byteLength;
  return { peakMiB: peakRssMiB(), ms, mib: bytes / 2 ** 20 };
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
