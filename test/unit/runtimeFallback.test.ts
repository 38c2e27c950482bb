// Run-time fallback: a GPU provider that starts but fails while running moves the model to the
// CPU, with a notice saying which provider failed and why, and the request is answered from the
// CPU. The failure is ModelOptions.faultInjection (test-only) on a real webgpu session (Mesa's
// lavapipe here): no real way was found to make lavapipe fail at run time (it accepts the largest
// tensors a GPT-2 run makes, 1024 x 50257 logits). Skipped with the reason where webgpu cannot start.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import type { Tensor } from '../../src/engine/types';
import { EngineClient, type ProviderEvent } from '../../src/engine/worker/engineClient';
import { randomWeights, tinyConfig } from './helpers/engineFixtures';

const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625, 262];
const WORKER = join(__dirname, 'helpers/engineWorker.ts.cjs');

function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.dims, b.dims);
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d = Math.max(d, Math.abs(a.data[i]! - b.data[i]!));
  return d;
}

describe('run-time provider fallback', { timeout: 120_000 }, () => {
  const cfg = tinyConfig();
  const weights = randomWeights(cfg, 5);
  let cpu: HookedGPT2;
  before(async () => {
    cpu = await HookedGPT2.fromWeights(cfg, weights, { device: 'cpu', threads: 1 });
  });
  after(async () => cpu.dispose());

  /** A model whose webgpu sessions are real but whose runs fail; null when webgpu cannot start here. */
  async function failingWebgpu(): Promise<HookedGPT2 | null> {
    const m = await HookedGPT2.fromWeights(cfg, weights, { device: 'webgpu', threads: 1, faultInjection: { failRunsOn: 'webgpu' } });
    if (m.provider === 'webgpu') return m;
    await m.dispose();
    return null;
  }

  it("moves to the CPU, says why, and answers the request there with the CPU's numbers", async (t) => {
    const m = await failingWebgpu();
    if (m === null) return t.skip('webgpu cannot start here (no Vulkan adapter)');
    try {
      assert.equal(m.notice, null, 'webgpu started: no notice yet');
      const logits = await m.run(TOKENS);
      assert.equal(m.provider, 'cpu');
      assert.match(m.notice ?? '', /^webgpu failed while running \(injected fault: .+\); switched to cpu$/);
      assert.ok(maxAbsDiff(logits, await cpu.run(TOKENS)) < 1e-5);
      // Later requests, including new graph variants, stay on the CPU without failing again.
      const { cache } = await m.runWithCache(TOKENS, { names: ['blocks.0.attn.hook_pattern'] });
      assert.deepEqual(cache.get('blocks.0.attn.hook_pattern').dims, [1, cfg.n_heads, TOKENS.length, TOKENS.length]);
      assert.equal(m.provider, 'cpu');
      assert.match(m.notice ?? '', /^webgpu failed while running/);
      // The webgpu sessions were released: only the CPU session made since remains (the hook
      // variant of a one-off runWithCache goes as it returns).
      assert.equal(m.openSessions, 1);
    } finally {
      await m.dispose();
    }
  });

  it('two requests failing at once both succeed on the CPU, with one switch', async (t) => {
    const m = await failingWebgpu();
    if (m === null) return t.skip('webgpu cannot start here (no Vulkan adapter)');
    try {
      const [a, b] = await Promise.all([m.run(TOKENS), m.run(TOKENS.slice(0, 4))]);
      const want = await cpu.run(TOKENS);
      assert.ok(maxAbsDiff(a, want) < 1e-5);
      assert.deepEqual(b.dims, [1, 4, cfg.d_vocab_out]);
      assert.equal(m.provider, 'cpu');
      assert.match(m.notice ?? '', /^webgpu failed while running \(injected fault/);
    } finally {
      await m.dispose();
    }
  });

  it("a throwing hook function is the caller's error, not a provider failure: no switch", async (t) => {
    const m = await HookedGPT2.fromWeights(cfg, weights, { device: 'webgpu', threads: 1 });
    if (m.provider !== 'webgpu') {
      await m.dispose();
      return t.skip('webgpu cannot start here (no Vulkan adapter)');
    }
    try {
      await assert.rejects(
        m.runWithHooks(TOKENS, [
          {
            name: 'blocks.0.hook_resid_mid',
            fn: () => {
              throw new Error('hook says no');
            },
          },
        ]),
        /hook says no/,
      );
      assert.equal(m.provider, 'webgpu');
      assert.equal(m.notice, null);
    } finally {
      await m.dispose();
    }
  });

  it('a failure on the CPU propagates unchanged (nothing to fall back to)', async () => {
    const m = await HookedGPT2.fromWeights(cfg, weights, { device: 'cpu', threads: 1, faultInjection: { failRunsOn: 'cpu' } });
    try {
      await assert.rejects(m.run(TOKENS), (e: Error) => e.name === 'Error' && /^injected fault: runs on cpu fail/.test(e.message));
      assert.equal(m.provider, 'cpu');
      assert.equal(m.notice, null);
    } finally {
      await m.dispose();
    }
  });

  it('the engine worker reports the switch to its client before the reply that caused it', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'model-lens-fallback-'));
    const events: ProviderEvent[] = [];
    const client = new EngineClient({ workerPath: WORKER, onProviderChange: (e) => events.push(e) });
    try {
      await generateTinyGpt2(dir, { seed: 7 });
      const info = await client.load(dir, { device: 'webgpu', threads: 1, faultInjection: { failRunsOn: 'webgpu' } });
      if (info.provider !== 'webgpu') return t.skip(`webgpu cannot start here: ${info.notice ?? ''}`);
      assert.equal(events.length, 0);
      const r = await client.run(TOKENS);
      assert.deepEqual(r.logits.dims, [1, TOKENS.length, 50257]);
      assert.equal(events.length, 1, 'exactly one provider event, delivered before the run resolved');
      assert.equal(events[0]!.provider, 'cpu');
      assert.match(events[0]!.notice ?? '', /^webgpu failed while running/);
      await client.run(TOKENS);
      assert.equal(events.length, 1, 'no event when nothing changed');
    } finally {
      await client.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
