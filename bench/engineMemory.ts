// Resident memory of HookedGPT2 through its session variants: after load (main session), after a
// run, after runWithCache (a variant with every hook point as an output), after an ablation
// (an intervention variant), after dispose. PSS counts a page mapped by several sessions once. RssAnon is the process's own heap (JS weights,
// onnxruntime's copies); RssFile is file pages mapped in (weights.bin, shared between sessions
// and with the page cache). A diagnostic for engine work, not part of `npm run bench`:
//   node --expose-gc --import tsx bench/engineMemory.ts CHECKPOINT_DIR [tokens=16]
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { HookedGPT2 } from '../src/engine/model';

function status(): Record<'VmRSS' | 'RssAnon' | 'RssFile' | 'VmHWM' | 'Pss', number> {
  const text = readFileSync('/proc/self/status', 'utf8') + readFileSync('/proc/self/smaps_rollup', 'utf8');
  const mib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  return { VmRSS: mib('VmRSS'), RssAnon: mib('RssAnon'), RssFile: mib('RssFile'), VmHWM: mib('VmHWM'), Pss: mib('Pss') };
}

function report(stage: string, ms: number): void {
  (globalThis as { gc?: () => void }).gc?.();
  const s = status();
  console.log(
    `${stage.padEnd(22)} ${ms.toFixed(0).padStart(7)} ms  RSS ${s.VmRSS.toFixed(0).padStart(6)} MiB  (anon ${s.RssAnon.toFixed(0)}, file ${s.RssFile.toFixed(0)})  PSS ${s.Pss.toFixed(0)} MiB  peak ${s.VmHWM.toFixed(0)} MiB`,
  );
}

async function timed(stage: string, fn: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await fn();
  report(stage, performance.now() - t0);
}

async function main(): Promise<void> {
  const folder = process.argv[2];
  if (folder === undefined) throw new Error('usage: engineMemory.ts CHECKPOINT_DIR [tokens=16]');
  const T = Number(process.argv[3] ?? 16);
  const tokens = Array.from({ length: T }, (_, i) => (i * 7919) % 50257);
  report('start', 0);
  let model: HookedGPT2 | null = null;
  await timed('load', async () => {
    model = await HookedGPT2.fromPretrained(folder, { device: 'cpu' });
  });
  const m = model as unknown as HookedGPT2;
  await timed(`run (${T} tokens)`, () => m.run(tokens));
  await timed(`run again`, () => m.run(tokens));
  await timed('runWithCache', () => m.runWithCache(tokens));
  await timed('ablation variant', () => m.runWithInterventions(tokens, [{ kind: 'ablateHeads', layer: 0, heads: [0] }]));
  await timed('dispose', () => m.dispose());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
