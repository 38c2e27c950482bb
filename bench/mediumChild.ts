// One gpt2-medium-shaped measurement in a process of its own (bench/medium.bench.ts starts it),
// so the peak resident memory it reports is this configuration's alone: load, one forward of
// 1,024 tokens (logits of every position), then the activation panel's hooks over the same tokens.
//   node --import tsx bench/mediumChild.ts FOLDER fp32|fp16 THREADS
// Prints one JSON line: load_s, RSS after load, the peak RSS of load + run, the panel's peak, run and panel ms.
import { performance } from 'node:perf_hooks';
import { HookedGPT2, type WeightDtype } from '../src/engine/model';
import { PANEL_NAMES } from './engine.bench';
import { collectGarbage, peakRssMiB, resetPeakRss, rssMiB } from './procMemory';

async function main(): Promise<void> {
  const [folder, dtype, threads] = process.argv.slice(2) as [string, WeightDtype, string];
  let t0 = performance.now();
  const model = await HookedGPT2.fromPretrained(folder, { device: 'cpu', threads: Number(threads), dtype });
  const loadS = (performance.now() - t0) / 1000;
  collectGarbage();
  const loadedMiB = rssMiB();
  const tokens = Array.from({ length: 1024 }, (_, i) => (i * 7919 + 13) % 50257);
  t0 = performance.now();
  await model.run(tokens);
  const runMs = performance.now() - t0;
  // Load + run's peak, then the panel hooks' own (its returned activations alone are about 2 GB at 1,024 tokens).
  const runPeakMiB = peakRssMiB();
  collectGarbage();
  resetPeakRss();
  t0 = performance.now();
  const panel = await model.runWithCache(tokens, { names: PANEL_NAMES });
  const panelMs = performance.now() - t0;
  let panelBytes = 0;
  for (const name of panel.cache.names()) panelBytes += panel.cache.get(name).data.byteLength;
  const out = {
    load_s: loadS,
    loaded_mib: loadedMiB,
    run_peak_mib: runPeakMiB,
    panel_peak_mib: peakRssMiB(),
    run_ms: runMs,
    panel_ms: panelMs,
    panel_mib: panelBytes / 2 ** 20,
  };
  await model.dispose();
  console.log(JSON.stringify(out));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
