// EngineClient's supervision of its worker thread, against a thread that really dies (process.exit,
// an uncaught exception) or really stops answering (a synchronous loop standing in for one long
// onnxruntime call): in-flight requests reject naming the reason, the next request starts a new
// thread and reloads the model, the restart limit holds until resetRestarts(), and a cancel or a
// dispose during a run that never ends returns without waiting for it.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { EngineClient, EngineWorkerError, type WorkerDeath } from '../../src/engine/worker/engineClient';

const WORKER = join(__dirname, 'helpers/engineWorker.ts.cjs');
const TOKENS = [50256, 464, 2068, 7586, 21831];

/** A clock that does not move: the restart window never expires during a test, however slow the machine. */
const frozen = (): number => 0;

function sameLogits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

describe('engine worker supervision', { timeout: 120_000 }, () => {
  let dir: string;
  let reference: Float32Array;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-fault-'));
    await generateTinyGpt2(dir, { seed: 11, tiedLmHead: true });
    const c = new EngineClient({ workerPath: WORKER });
    await c.load(dir, { threads: 1 });
    reference = (await c.run(TOKENS)).logits.data;
    await c.dispose();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a worker that exits mid-run: the run rejects naming the exit code, the next request restarts it with the model', async () => {
    const deaths: WorkerDeath[] = [];
    const c = new EngineClient({ workerPath: WORKER, now: frozen, onWorkerDied: (d) => deaths.push(d) });
    try {
      await c.load(dir, { threads: 1 });
      await c.injectFault('exit', 'nextRun', 71);
      const dying = c.run(TOKENS);
      const queued = c.run(TOKENS);
      await assert.rejects(
        dying,
        (e: Error) => e instanceof EngineWorkerError && /exit code 71/.test(e.message) && /next request starts a new one/.test(e.message),
      );
      await assert.rejects(queued, (e: Error) => e instanceof EngineWorkerError && e.reason === 'exit code 71');
      assert.equal(await c.exited, 71);
      assert.deepEqual(deaths, [{ reason: 'exit code 71', inFlight: 2, restartsLeft: 2, exhausted: false }]);
      assert.equal(c.workerAlive, false);
      const after = await c.run(TOKENS);
      assert.ok(sameLogits(after.logits.data, reference), 'the restarted worker runs the same model');
      assert.equal(c.workersStarted, 2);
    } finally {
      await c.dispose();
    }
  });

  it('an uncaught exception between runs: the reason names the error; the next request works', async () => {
    const deaths: WorkerDeath[] = [];
    const restarted: string[] = [];
    const c = new EngineClient({
      workerPath: WORKER,
      now: frozen,
      onWorkerDied: (d) => deaths.push(d),
      onWorkerRestarted: (i) => restarted.push(i.provider),
    });
    try {
      await c.load(dir, { threads: 1 });
      await c.run(TOKENS);
      await c.injectFault('throw', 'now');
      assert.equal(await c.exited, 1);
      assert.equal(deaths.length, 1);
      assert.match(deaths[0]!.reason, /injected fault: uncaught exception in the engine worker \(exit code 1\)/);
      assert.equal(deaths[0]!.inFlight, 0);
      assert.ok(sameLogits((await c.run(TOKENS)).logits.data, reference));
      assert.deepEqual(restarted, ['cpu']);
    } finally {
      await c.dispose();
    }
  });

  it('restarts at most maxRestarts times in the window, then refuses with the reason until resetRestarts()', async () => {
    const deaths: WorkerDeath[] = [];
    const c = new EngineClient({ workerPath: WORKER, now: frozen, onWorkerDied: (d) => deaths.push(d), exhaustedHint: 'See the log.' });
    try {
      await c.load(dir, { threads: 1 });
      for (let i = 1; i <= 4; i++) {
        await c.injectFault('exit', 'nextRun', 80 + i);
        await assert.rejects(c.run(TOKENS), (e: Error) => e instanceof EngineWorkerError && e.reason === `exit code ${80 + i}`);
      }
      // 1 start + 3 restarts; the fourth death used up the restarts.
      assert.equal(c.workersStarted, 4);
      assert.deepEqual(
        deaths.map((d) => [d.restartsLeft, d.exhausted]),
        [
          [2, false],
          [1, false],
          [0, false],
          [0, true],
        ],
      );
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          c.run(TOKENS),
          (e: Error) =>
            e instanceof EngineWorkerError &&
            e.exhausted &&
            /stopped 4 times within 60 s \(last: exit code 84\)/.test(e.message) &&
            /See the log\./.test(e.message),
        );
      }
      assert.equal(c.workersStarted, 4, 'no thread is started while refusing');
      c.resetRestarts();
      assert.ok(sameLogits((await c.run(TOKENS)).logits.data, reference));
      assert.equal(c.workersStarted, 5);
    } finally {
      await c.dispose();
    }
  });

  it('deaths outside the window do not count', async () => {
    let clock = 0;
    const c = new EngineClient({ workerPath: WORKER, now: () => clock, maxRestarts: 1, restartWindowMs: 1000 });
    try {
      await c.load(dir, { threads: 1 });
      for (let i = 0; i < 3; i++) {
        clock += 1000; // each death a full window after the last
        await c.injectFault('exit', 'nextRun');
        await assert.rejects(c.run(TOKENS), EngineWorkerError);
      }
      assert.ok(sameLogits((await c.run(TOKENS)).logits.data, reference));
      assert.equal(c.workersStarted, 4);
    } finally {
      await c.dispose();
    }
  });

  it('cancelling a run that never returns ends the thread; the requests queued behind it run on a fresh one', async () => {
    const deaths: WorkerDeath[] = [];
    const c = new EngineClient({ workerPath: WORKER, now: frozen, cancelGraceMs: 0, onWorkerDied: (d) => deaths.push(d) });
    try {
      await c.load(dir, { threads: 1 });
      await c.injectFault('hang', 'nextRun');
      const ctl = new AbortController();
      const stuck = c.run(TOKENS, { signal: ctl.signal });
      const behind = [c.run(TOKENS), c.run(TOKENS, { logitsAt: 'last' })];
      const stuckWorker = c.exited;
      ctl.abort();
      await assert.rejects(stuck, (e: Error) => e.name === 'AbortError');
      assert.equal(await stuckWorker, 1, 'the stuck thread was ended (terminate() exits with code 1)');
      const [full, last] = await Promise.all(behind);
      assert.ok(sameLogits(full!.logits.data, reference), 'nothing queued is lost');
      const tail = reference.subarray((TOKENS.length - 1) * 50257);
      assert.ok(last!.logits.data.every((v, i) => Math.abs(v - tail[i]!) < 1e-5));
      assert.equal(c.workersStarted, 2);
      assert.deepEqual(deaths, [], 'an interrupt is not a death: the restart limit is untouched');
    } finally {
      await c.dispose();
    }
  });

  it('dispose during a run that never returns ends the thread at once; the run rejects with AbortError', async () => {
    const c = new EngineClient({ workerPath: WORKER });
    await c.load(dir, { threads: 1 });
    await c.injectFault('hang', 'nextRun');
    const stuck = assert.rejects(c.run(TOKENS), (e: Error) => e.name === 'AbortError');
    const queued = assert.rejects(
      c.panel({ op: 'run', tokens: Int32Array.from(TOKENS), interventions: [], topK: 3, thumb: 2 }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.equal(await c.dispose(), 0);
    assert.equal(await c.exited, 1);
    assert.equal(c.workerAlive, false);
    await stuck;
    await queued;
    await assert.rejects(c.run(TOKENS), /disposed/);
  });

  it('ending the thread right after a real run starts never aborts the process (it waits for the onnxruntime call in progress)', async () => {
    // Regression: Worker.terminate() inside one of onnxruntime-node's native calls aborted the
    // whole process ("terminate called after throwing an instance of 'Napi::Error'"). The
    // interleavings vary with the number of event-loop turns between the run and the dispose.
    const outcomes = { answered: 0, aborted: 0 };
    for (let turns = 0; turns < 16; turns++) {
      const c = new EngineClient({ workerPath: WORKER });
      await c.load(dir, { threads: 1 });
      const run = c.run(TOKENS).then(
        (r) => {
          assert.ok(sameLogits(r.logits.data, reference));
          outcomes.answered++;
        },
        (e: Error) => {
          assert.equal(e.name, 'AbortError');
          outcomes.aborted++;
        },
      );
      for (let t = 0; t < turns; t++) await new Promise((r) => setImmediate(r));
      assert.equal(await c.dispose(), 0);
      await run;
      assert.equal(c.workerAlive, false);
    }
    assert.equal(outcomes.answered + outcomes.aborted, 16);
    assert.ok(outcomes.aborted > 0, 'at least the dispose in the same turn finds its run in flight');
  });
});
