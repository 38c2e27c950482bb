// Where a readout graph's time goes, node by node: the panel's first-view graph (forward +
// loss/top-k, thumbnails, residual norms, held hooks) against the plain logits-only forward, on
// the gpt2-small-shaped checkpoint, through onnxruntime's own profiler. A diagnostic for engine
// work, not part of `npm run bench`:
//   node --import tsx bench/readoutProfile.ts [tokens=1024] [reps=2]
// Prints, per graph, the session-creation time, the median run time, and the summed kernel time
// by op type and by the node's name prefix (the readout or hook it belongs to).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../src/engine/checkpoint/load';
import { buildModelGraph, LOGITS_OUTPUT, TOKENS_INPUT } from '../src/engine/graph';
import { encodeModel } from '../src/engine/onnx/encode';
import type { GraphIR } from '../src/engine/onnx/ir';
import { liftWeights } from '../src/engine/onnx/weightInputs';
import { processWeights } from '../src/engine/processing';
import { ensureTinyGpt2 } from '../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING } from '../src/engine/types';
import { lossAndTopK } from '../kernels/readouts/lossAndTopK';
import { thumbnails } from '../kernels/readouts/thumbnails';
import { residualNorms } from '../kernels/readouts/residualNorms';
import { held } from '../kernels/readouts/held';
import { logitLens } from '../kernels/readouts/logitLens';
import { dla } from '../kernels/readouts/dla';
import type { Readout } from '../kernels/readouts/readout';

interface ProfileEvent {
  readonly cat: string;
  readonly name: string;
  readonly ts: number;
  readonly dur: number;
  readonly args?: { readonly op_name?: string };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** The summed kernel time of the last run in a profile (earlier runs grow the arena), by op type and by node. */
function summarise(file: string, runs: number): void {
  const events = JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[];
  const lastRun = Math.max(...events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.ts));
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= lastRun);
  const byOp = new Map<string, number>();
  const byNode = new Map<string, number>();
  for (const e of nodes) {
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur / runs);
    const name = e.name.replace(/_kernel_time$/, '');
    byNode.set(name, (byNode.get(name) ?? 0) + e.dur / runs);
  }
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  console.log(`  kernel time per run ${(total / 1000).toFixed(0)} ms; by op type:`);
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 14))
    console.log(`    ${op.padEnd(22)} ${(us / 1000).toFixed(1).padStart(8)} ms`);
  console.log('  top nodes:');
  for (const [n, us] of [...byNode].sort((a, b) => b[1] - a[1]).slice(0, 30))
    console.log(`    ${n.slice(0, 60).padEnd(60)} ${(us / 1000).toFixed(1).padStart(8)} ms`);
}

async function profileGraph(label: string, graph: GraphIR, feeds: Record<string, ort.Tensor>, reps: number, arena: boolean): Promise<void> {
  const threads = Number(process.env.MODEL_LENS_BENCH_THREADS) || availableParallelism();
  const lifted = liftWeights(graph);
  const bytes = encodeModel(lifted.graph);
  const bound: Record<string, ort.Tensor> = {};
  for (const [k, v] of lifted.weights) if ('data' in v) bound[k] = new ort.Tensor(v.type, v.data, v.dims); // CPU: host arrays only
  const opts = (profile: boolean): ort.InferenceSession.SessionOptions => ({
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'basic',
    intraOpNumThreads: threads,
    logSeverityLevel: 3,
    enableCpuMemArena: arena,
    extra: { session: { disable_prepacking: '1' } },
    ...(profile ? { enableProfiling: true, profileFilePrefix: join(tmpdir(), `readout-profile-${label}`) } : {}),
  });
  const t0 = performance.now();
  const plain = await ort.InferenceSession.create(bytes, opts(false));
  const created = performance.now() - t0;
  const all = { ...bound, ...feeds };
  const times: number[] = [];
  const faults: number[] = [];
  for (let r = 0; r <= reps; r++) {
    const t = performance.now();
    const f = process.resourceUsage().minorPageFault;
    await plain.run(all);
    if (r > 0) times.push(performance.now() - t);
    if (r > 0) faults.push(process.resourceUsage().minorPageFault - f);
  }
  await plain.release();
  // Minor page faults count the fresh pages a run touches (4 KiB each): a run without an arena pays them for every large buffer.
  console.log(
    `${label}: session ${created.toFixed(0)} ms; run median ${median(times).toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(', ')}); ` +
      `fresh pages per run ${faults.map((f) => `${((f * 4) / 1024).toFixed(0)} MiB`).join(', ')}`,
  );
  if (process.env.MODEL_LENS_PROFILE_NODES === '0') return;
  const prof = await ort.InferenceSession.create(bytes, opts(true));
  await prof.run(all);
  await prof.run(all);
  prof.endProfiling();
  await prof.release();
  const prefix = `readout-profile-${label}`;
  for (const f of readdirSync(tmpdir()).filter((n) => n.startsWith(prefix) && n.endsWith('.json'))) {
    summarise(join(tmpdir(), f), 1);
    rmSync(join(tmpdir(), f), { force: true });
  }
}

async function main(): Promise<void> {
  const T = Number(process.argv[2] ?? 1024);
  const reps = Number(process.argv[3] ?? 2);
  const which = (process.argv[4] ?? 'plain,first').split(',');
  const folder = await ensureTinyGpt2(process.env.MODEL_LENS_BENCH_CACHE ?? join(tmpdir(), 'model-lens-bench'), {
    preset: 'gpt2-small',
    tiedLmHead: true,
  });
  const loaded = await loadCheckpoint(folder);
  const { cfg, weights } = processWeights(loaded.cfg, loaded.weights, DEFAULT_PROCESSING);
  const ids = Array.from({ length: T }, (_, i) => (i === 0 ? 50256 : (i * 7919 + 13) % 50257));
  const tokens = new ort.Tensor(
    'int64',
    BigInt64Array.from(ids, (t) => BigInt(t)),
    [1, T],
  );
  const heldHooks = [...new Set([...(logitLens(0, 1).reads?.(cfg) ?? []), ...(dla(0, 0).reads?.(cfg) ?? [])])];
  const sets: Record<string, Readout[]> = {
    first: [lossAndTopK(10), thumbnails(24), residualNorms(), held(heldHooks)],
    loss: [lossAndTopK(10)],
    thumbs: [thumbnails(24)],
    norms: [residualNorms()],
    held: [held(heldHooks)],
  };
  for (const w of which) {
    if (w === 'plain') {
      const { graph } = buildModelGraph(cfg, weights);
      const pruned = { ...graph, outputs: graph.outputs.filter((o) => o.name === LOGITS_OUTPUT) };
      await profileGraph('plain', pruned, { [TOKENS_INPUT]: tokens }, reps, true);
      continue;
    }
    const readouts = sets[w]!;
    const { graph } = buildModelGraph(cfg, weights, new Map(), 'all', { readouts });
    const feeds: Record<string, ort.Tensor> = { [TOKENS_INPUT]: tokens };
    for (const r of readouts)
      for (const [name, p] of Object.entries(r.params)) {
        const input = `readout/${r.key}/param:${name}`;
        if (graph.inputs.some((i) => i.name === input))
          feeds[input] = new ort.Tensor('int64', BigInt64Array.from(p.values, BigInt), [p.values.length]);
      }
    // The engine opens readout sessions without a memory arena (model.ts openQuietSession); ARENA=1 compares.
    await profileGraph(w, graph, feeds, reps, process.env.MODEL_LENS_PROFILE_ARENA === '1');
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
