// Execution providers: what is chosen, how a provider that cannot start falls back to the CPU
// with a notice, and that every provider that does start gives the CPU's numbers. CI has no GPU;
// the webgpu checks run when a Vulkan device exists (Debian's lavapipe from bookworm-backports is
// one, and .ci/run installs it), and are skipped with the reason otherwise.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { HookedGPT2 } from '../../src/engine/model';
import { availableProviders, gpuDevicePresent } from '../../src/engine/ort/session';
import type { Tensor } from '../../src/engine/types';
import { relErr } from '../support/compare';
import { randomWeights, tinyConfig } from './helpers/engineFixtures';

const TIMEOUT = 120_000;
const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290];

/** relErr over tensors of the same shape (max|a-b| / max|b|; masked -inf entries must match exactly). */
function relError(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.dims, b.dims);
  return relErr(a.data, b.data);
}

function vulkanDeviceLikely(): boolean {
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  return dirs.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
}

describe('execution providers', { timeout: TIMEOUT }, () => {
  const cfg = tinyConfig();
  const weights = randomWeights(cfg, 3);
  let cpu: HookedGPT2;
  before(async () => {
    cpu = await HookedGPT2.fromWeights(cfg, weights, { device: 'cpu', threads: 1, use_attn_result: true });
  });
  after(async () => cpu.dispose());

  it('lists the providers this onnxruntime build carries, cpu always among them', () => {
    const providers = availableProviders();
    assert.ok(providers.includes('cpu'));
    assert.ok(providers.includes('webgpu'), 'the Linux x64 build of onnxruntime-node ships the WebGPU provider');
  });

  it('falls back to the CPU with a visible notice when the CUDA provider cannot load', async (t) => {
    const m = await HookedGPT2.fromWeights(cfg, weights, { device: 'cuda', threads: 1 });
    try {
      if (m.provider === 'cuda') return t.skip('a working CUDA provider is installed here');
      assert.equal(m.provider, 'cpu');
      assert.match(m.notice ?? '', /cuda unavailable: .+; falling back to cpu/);
      const want = await cpu.run(TOKENS);
      // cpu here has use_attn_result on (another summation order), hence a tolerance, not equality.
      assert.ok(relError(await m.run(TOKENS), want) < 1e-5, 'the fallback computes the same logits on the CPU');
    } finally {
      await m.dispose();
    }
  });

  it("'auto' picks a provider that works and says why when it skipped one", async () => {
    const m = await HookedGPT2.fromWeights(cfg, weights, { device: 'auto', threads: 1 });
    try {
      assert.ok(['cuda', 'webgpu', 'cpu'].includes(m.provider));
      if (m.provider !== 'cuda') assert.match(m.notice ?? '', /cuda unavailable/);
      if (!gpuDevicePresent()) {
        // A software Vulkan adapter would be slower than the CPU provider: auto must not pick it.
        assert.equal(m.provider, 'cpu');
        assert.match(m.notice ?? '', /webgpu skipped: no GPU device/);
      }
      const logits = await m.run(TOKENS);
      assert.ok(relError(logits, await cpu.run(TOKENS)) < 1e-4);
    } finally {
      await m.dispose();
    }
  });

  it("webgpu gives the CPU provider's hook values within 1e-4 relative error", async (t) => {
    if (!vulkanDeviceLikely()) return t.skip('no Vulkan ICD installed (mesa-vulkan-drivers from bookworm-backports gives one)');
    const m = await HookedGPT2.fromWeights(cfg, weights, { device: 'webgpu', threads: 1, use_attn_result: true });
    try {
      if (m.provider !== 'webgpu') return t.skip(`webgpu could not start here: ${m.notice ?? ''}`);
      const want = await cpu.runWithCache(TOKENS);
      const got = await m.runWithCache(TOKENS);
      assert.deepEqual(got.cache.names(), want.cache.names());
      for (const name of want.cache.names()) {
        const e = relError(got.cache.get(name), want.cache.get(name));
        assert.ok(e < 1e-4, `${name}: relative error ${e.toExponential(2)} on webgpu`);
      }
      assert.ok(relError(got.logits, want.logits) < 1e-4);
    } finally {
      await m.dispose();
    }
  });

  it("logitsAt 'last' unembeds only the last position, equal to the last row of the full logits", async () => {
    const full = await cpu.run(TOKENS);
    const last = await cpu.run(TOKENS, { logitsAt: 'last' });
    const V = cfg.d_vocab_out;
    assert.deepEqual(last.dims, [1, 1, V]);
    const tail = full.data.subarray((TOKENS.length - 1) * V);
    let diff = 0;
    for (let i = 0; i < V; i++) diff = Math.max(diff, Math.abs(tail[i]! - last.data[i]!));
    assert.ok(diff < 1e-5, `max abs diff ${diff}`);
  });
});
