// The activation panel's memory is bounded and given back: after a first view at 1,024 tokens the
// process (the worker is a thread of it) holds at most 300 MiB more than with the model loaded,
// and after the panel's release op it is back near the loaded level (what glibc keeps in its
// heaps at this shape, below; the bench measures issue 11's ±50 MiB at GPT-2 small's). The worker is
// real, the model a GPT-2 of 3 layers × 256 wide with GPT-2's vocabulary, so the [1024, 50257]
// logits the loss and top-k read (196 MiB) and the held hooks are what they are in GPT-2 small.
//
// Measured with the C allocator as an extension host has it, in the state that keeps the most:
// glibc's malloc raises its mmap threshold (up to 32 MiB) each time a mapped chunk below it is
// freed, and then keeps freed chunks below it in its heaps instead of returning them. A
// long-running extension host has long raised it, so this test raises it first (freeing one
// 31 MiB buffer). Each reading follows a full garbage collection of the worker's heap and this
// thread's, so garbage not yet collected does not count as held.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { after, before, describe, it } from 'node:test';
import { EngineClient } from '../../src/engine/worker/engineClient';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';

const WORKER = join(__dirname, 'helpers/engineWorker.ts.cjs');
const MiB = 2 ** 20;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The process's RSS after collecting both heaps (the worker's through its memory op). */
async function settledRss(client: EngineClient): Promise<number> {
  gc();
  return (await client.tensor({ op: 'memory', settle: true })).rss / MiB;
}

/** Frees one mapped 31 MiB chunk, which raises glibc's mmap threshold to 31 MiB for the whole process. */
function raiseMallocThreshold(): void {
  (() => Buffer.allocUnsafeSlow(31 * MiB).fill(1))(); // dropped at once: the next collection frees it
  gc();
}

describe('activation panel memory (3 layers × 256, GPT-2 vocabulary, 1,024 tokens)', { timeout: 300_000 }, () => {
  let dir: string;
  let client: EngineClient;
  before(async () => {
    raiseMallocThreshold();
    dir = mkdtempSync(join(tmpdir(), 'model-lens-panel-mem-'));
    await generateTinyGpt2(dir, { seed: 3, n_layer: 3, n_embd: 256, n_head: 4 });
    client = new EngineClient({ workerPath: WORKER });
    await client.load(dir, { threads: 2 });
  });
  after(async () => {
    await client.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('at most 300 MiB above the loaded model after the first view; given back after release, and no growth from one panel to the next once settled', async (t) => {
    const tokens = Int32Array.from({ length: 1024 }, (_, i) => (i === 0 ? 50256 : 200 + ((i * 7919) % 30000)));
    await client.run([50256, 464]); // the main session's first run
    const loaded = await settledRss(client);
    const readings: string[] = [];
    const released: number[] = [];
    for (let round = 1; round <= 3; round++) {
      const r = await client.panel({ op: 'run', tokens, interventions: [], topK: 10, thumb: 24 });
      assert.equal(r.op, 'run');
      const runId = r.op === 'run' ? r.runId : 0;
      const afterFirst = await settledRss(client);
      // Detail views too: each opens its own readout session, kept until the panel closes.
      await client.panel({ op: 'pattern', runId, layer: 1, head: 0 });
      await client.panel({ op: 'logitLens', runId, from: 0, to: 64 });
      await client.panel({ op: 'dla', runId, pos: 500, token: tokens[501]! });
      const afterViews = await settledRss(client);
      await client.panel({ op: 'release', runId });
      released.push(await settledRss(client));
      readings.push(
        `round ${round}: first view ${afterFirst.toFixed(0)}, views ${afterViews.toFixed(0)}, after release ${released.at(-1)!.toFixed(0)}`,
      );
      const at = `loaded ${loaded.toFixed(0)} MiB; ${readings.join('; ')}`;
      assert.ok(afterFirst - loaded <= 300, `the first view holds over 300 MiB: ${at}`);
      // What may stay after release is glibc's: arena regions and arrays under its raised mmap
      // threshold (under 32 MiB each at this shape), freed into its heaps, which the next panel
      // reuses. How much varies run to run with which of glibc's per-thread heaps took what:
      // measured +32 to +66 MiB on one 2-core machine and up to +97 in a CI run on another (the
      // bound was 80 until that run). Holding the logits (196 MiB) or the run's sessions would
      // exceed 120. At GPT-2 small's shape, where the large buffers are all mapped, the bench
      // measures issue 11's ±50 MiB (+35 in this session's run).
      assert.ok(released.at(-1)! - loaded <= 120, `not given back after release: ${at}`);
      await assert.rejects(client.panel({ op: 'pattern', runId, layer: 0, head: 0 }), /no longer held/);
    }
    // What glibc kept after the first panels is reused by the next, not added to: a leak would
    // grow every round. The second panel may still settle glibc's heaps (+28 and +32 MiB seen in
    // CI runs, −25 to +3 elsewhere), so the check is the third against the second.
    assert.ok(
      released[2]! - released[1]! <= 40,
      `a third panel left more behind than the second: loaded ${loaded.toFixed(0)} MiB; ${readings.join('; ')}`,
    );
    t.diagnostic(`RSS MiB: loaded ${loaded.toFixed(0)}; ${readings.join('; ')}`);
  });

  it('the instrument sees a held 1,024-token result: full logits kept in this process raise RSS by over 150 MiB', async () => {
    const before = await settledRss(client);
    const r = await client.run(Array.from({ length: 1024 }, (_, i) => (i === 0 ? 50256 : 300 + i))); // [1, 1024, 50257] float32: 196 MiB
    const held = await settledRss(client);
    assert.equal(r.logits.data.length, 1024 * 50257);
    assert.ok(held - before > 150, `RSS ${before.toFixed(0)} → ${held.toFixed(0)} MiB while holding the logits`);
  });
});
