// The panel's first view at one length, in-process, alternating three ways so that a shared
// machine's load falls on all of them alike: the plain logits-only forward; the first view's
// readouts in a session made for the call with a memory arena (readout's `once`, what the panel
// does); the same readouts in a cached session without an arena (the design before). A
// diagnostic, not part of `npm run bench`:  node --import tsx bench/firstViewAB.ts [tokens=1024] [rounds=3]
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { HookedGPT2 } from '../src/engine/model';
import { ensureTinyGpt2 } from '../src/engine/tinyGpt2';
import { lossAndTopK } from '../kernels/readouts/lossAndTopK';
import { thumbnails } from '../kernels/readouts/thumbnails';
import { residualNorms } from '../kernels/readouts/residualNorms';
import { held } from '../kernels/readouts/held';
import { logitLens } from '../kernels/readouts/logitLens';
import { dla } from '../kernels/readouts/dla';

async function main(): Promise<void> {
  const T = Number(process.argv[2] ?? 1024);
  const rounds = Number(process.argv[3] ?? 3);
  const folder = await ensureTinyGpt2(join(tmpdir(), 'model-lens-bench'), { preset: 'gpt2-small', tiedLmHead: true });
  const model = await HookedGPT2.fromPretrained(folder, { device: 'cpu', threads: 2 });
  const ids = Array.from({ length: T }, (_, i) => (i === 0 ? 50256 : (i * 7919 + 13) % 50257));
  const cfg = model.cfg;
  const hooks = [...new Set([...(logitLens(0, 1).reads?.(cfg) ?? []), ...(dla(0, 0).reads?.(cfg) ?? [])])];
  const first = [lossAndTopK(10), thumbnails(24), residualNorms(), held(hooks)];
  const ways: [string, () => Promise<unknown>][] = [
    ['plain forward', () => model.run(ids)],
    ['first view, once (arena, released)', () => model.readout(ids, first, { once: true })],
    ['first view, cached without arena', () => model.readout(ids, first)],
  ];
  await model.run(ids); // the main session's arena grows once
  const times = new Map<string, number[]>(ways.map(([n]) => [n, []]));
  for (let r = 0; r <= rounds; r++) {
    for (const [name, fn] of ways) {
      const t0 = performance.now();
      await fn();
      times.get(name)!.push(performance.now() - t0); // round 0 includes the cached session's creation
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const plain = median(times.get('plain forward')!.slice(1));
  for (const [name, ts] of times) {
    const m = median(ts.slice(1));
    console.log(
      `${name.padEnd(38)} median ${m.toFixed(0).padStart(6)} ms = ${(m / plain).toFixed(2)}× plain   (${ts.map((t) => t.toFixed(0)).join(', ')}; first includes any session creation)`,
    );
  }
  await model.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
