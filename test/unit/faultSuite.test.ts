// The fault suite of the brief, through the real EngineClient and worker thread on the tiny
// generated GPT-2: 100 concurrent requests, 1,000 runs without memory growth, the worker killed
// mid-run, a panel closed mid-run, a model switched mid-run. "Nothing lost": every request
// settles, with its own correct result or with an error that names why; none hangs, and the
// client serves the next request. Figures are printed with a '# fault suite:' prefix for
// docs/TESTING.md.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { EngineClient, EngineWorkerError } from '../../src/engine/worker/engineClient';

const WORKER = join(__dirname, 'helpers/engineWorker.ts.cjs');
const V = 50257;
const MB = 2 ** 20;
const frozen = (): number => 0;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Token sequence i of the concurrent test: different lengths and ids, so answers cannot be swapped unnoticed. */
function tokensFor(i: number): number[] {
  return [50256, ...Array.from({ length: 1 + (i % 7) }, (_, k) => (i * 97 + k * 31) % 50000)];
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe('fault suite (real worker, tiny GPT-2)', { timeout: 300_000 }, () => {
  let dir: string;
  let other: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-faults-'));
    other = mkdtempSync(join(tmpdir(), 'model-lens-faults-b-'));
    await generateTinyGpt2(dir, { seed: 11 });
    await generateTinyGpt2(other, { seed: 12 });
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });

  it('100 concurrent requests: each gets its own answer, equal to the same request made alone', async () => {
    const c = new EngineClient({ workerPath: WORKER });
    try {
      await c.load(dir, { threads: 1 });
      const all = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => c.run(tokensFor(i), { logitsAt: 'last' })));
      const rejected = all.filter((r) => r.status === 'rejected');
      assert.equal(rejected.length, 0, `rejected: ${rejected.map((r) => String((r as PromiseRejectedResult).reason)).join('; ')}`);
      let worst = 0;
      for (const i of [0, 1, 2, 3, 4, 5, 6, 37, 63, 99]) {
        const alone = await c.run(tokensFor(i), { logitsAt: 'last' });
        worst = Math.max(
          worst,
          maxDiff((all[i] as PromiseFulfilledResult<Awaited<ReturnType<EngineClient['run']>>>).value.logits.data, alone.logits.data),
        );
      }
      console.log(`# fault suite: 100 concurrent requests: 100 answered, 0 lost; max abs diff against the same request alone ${worst}`);
      assert.equal(worst, 0);
      assert.equal(c.workersStarted, 1);
    } finally {
      assert.equal(await c.dispose(), 0);
    }
  });

  it('1,000 runs through the worker without memory growth (RSS slope after warm-up)', async () => {
    const c = new EngineClient({ workerPath: WORKER });
    try {
      await c.load(dir, { threads: 1 });
      const tokens = tokensFor(6);
      const step = async (i: number): Promise<void> => {
        if (i % 4 === 3) {
          const r = await c.panel({ op: 'run', tokens: Int32Array.from(tokens), interventions: [], topK: 5, thumb: 4 });
          assert.equal(r.op, 'run');
        } else {
          const r = await c.run(tokens, {
            names: i % 4 === 1 ? ['blocks.0.attn.hook_pattern'] : [],
            ...(i % 4 === 2 ? { interventions: [{ kind: 'ablateHeads', layer: 1, heads: [i % 4] }] } : {}),
          });
          assert.equal(r.logits.data.length, tokens.length * V);
        }
      };
      const WARM = 100;
      const EVERY = 25;
      for (let i = 0; i < WARM; i++) await step(i);
      const xs: number[] = [];
      const ys: number[] = [];
      for (let i = WARM; i < 1000; i++) {
        await step(i);
        if ((i + 1) % EVERY === 0) {
          gc();
          xs.push(i + 1);
          ys.push(process.memoryUsage().rss / MB);
        }
      }
      const kbPerRun = slope(xs, ys) * 1024;
      const spread = Math.max(...ys) - Math.min(...ys);
      console.log(
        `# fault suite: 1,000 runs: RSS slope ${kbPerRun.toFixed(2)} KB/run over runs ${WARM}-1000 (${xs.length} samples, first ${ys[0]!.toFixed(0)} MB, last ${ys.at(-1)!.toFixed(0)} MB, spread ${spread.toFixed(1)} MB)`,
      );
      // A leak of one run's logits (1.6 MB here) would show as ~1,600 KB/run; 64 KB/run is noise room.
      assert.ok(kbPerRun < 64, `RSS grows ${kbPerRun.toFixed(1)} KB per run`);
    } finally {
      assert.equal(await c.dispose(), 0);
    }
  });

  it('the worker killed mid-run: every request in flight settles with the reason, the next ones run on a new worker', async () => {
    const c = new EngineClient({ workerPath: WORKER, now: frozen });
    try {
      await c.load(dir, { threads: 1 });
      const before = c.run(tokensFor(1));
      await before;
      await c.injectFault('exit', 'nextRun', 137);
      const inFlight = Array.from({ length: 10 }, (_, i) => c.run(tokensFor(i)));
      const settled = await Promise.allSettled(inFlight);
      const reasons = settled.map((s) => (s.status === 'rejected' && s.reason instanceof EngineWorkerError ? s.reason.reason : 'other'));
      assert.deepEqual(reasons, Array(10).fill('exit code 137'));
      const next = await Promise.all(Array.from({ length: 10 }, (_, i) => c.run(tokensFor(i), { logitsAt: 'last' })));
      assert.equal(next.length, 10);
      console.log(
        `# fault suite: worker killed mid-run (exit code 137): 10 in flight rejected naming it, 0 hung; 10 next requests answered by worker #${c.workersStarted}`,
      );
      assert.equal(c.workersStarted, 2);
    } finally {
      await c.dispose();
    }
  });

  it('a panel closed mid-run: its request aborts, the worker keeps serving and holds no run for it', async () => {
    const c = new EngineClient({ workerPath: WORKER });
    try {
      await c.load(dir, { threads: 1 });
      const first = await c.panel({ op: 'run', tokens: Int32Array.from(tokensFor(3)), interventions: [], topK: 3, thumb: 2 });
      assert.equal(first.op, 'run');
      // The panel's dispose aborts its run's controller, as ActivationPanelController does.
      const closing = new AbortController();
      const p = c.panel({ op: 'run', tokens: Int32Array.from(tokensFor(4)), interventions: [], topK: 3, thumb: 2 }, closing.signal);
      closing.abort();
      await assert.rejects(p, (e: Error) => e.name === 'AbortError');
      // The aborted run replaced nothing it could leave behind: the earlier run was dropped when it started.
      const after = await c.panel({ op: 'run', tokens: Int32Array.from(tokensFor(5)), interventions: [], topK: 3, thumb: 2 });
      assert.equal(after.op, 'run');
      if (first.op === 'run' && after.op === 'run') {
        assert.ok(after.runId > first.runId);
        await assert.rejects(c.panel({ op: 'pattern', runId: first.runId, layer: 0, head: 0 }), /no longer held/);
      }
      console.log(
        '# fault suite: panel closed mid-run: its request rejected with AbortError; the next panel run answered on the same worker',
      );
      assert.equal(c.workersStarted, 1);
    } finally {
      assert.equal(await c.dispose(), 0);
    }
  });

  it('a model switched mid-run: the old worker ends without waiting for the run, which rejects with AbortError; the new model answers', async () => {
    const a = new EngineClient({ workerPath: WORKER });
    await a.load(dir, { threads: 1 });
    // A run that never finishes on its own stands in for a long forward pass.
    await a.injectFault('hang', 'nextRun');
    const long = assert.rejects(a.run(tokensFor(6)), (e: Error) => e.name === 'AbortError');
    const queued = assert.rejects(a.run(tokensFor(5)), (e: Error) => e.name === 'AbortError');
    const oldWorker = a.exited;
    // The switch, as EngineService does it: dispose the old client, then load the new model.
    assert.equal(await a.dispose(), 0);
    assert.equal(await oldWorker, 1);
    assert.equal(a.workerAlive, false);
    await long;
    await queued;
    const b = new EngineClient({ workerPath: WORKER });
    try {
      const info = await b.load(other, { threads: 1 });
      assert.equal(info.cfg.n_layers, 2);
      const r = await b.run(tokensFor(6), { logitsAt: 'last' });
      assert.equal(r.logits.data.length, V);
      // A real run in flight when the switch comes is answered AbortError too (not a stale result).
      const c = new EngineClient({ workerPath: WORKER });
      await c.load(dir, { threads: 1 });
      const inFlight = assert.rejects(c.run(tokensFor(2)), (e: Error) => e.name === 'AbortError');
      assert.equal(await c.dispose(), 0);
      await inFlight;
      console.log(
        '# fault suite: model switched mid-run: the old worker ended (exit code 1) with its run unfinished; the run and 1 queued request rejected with AbortError; the new model answered',
      );
    } finally {
      assert.equal(await b.dispose(), 0);
    }
  });
});
