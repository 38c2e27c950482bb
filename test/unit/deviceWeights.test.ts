// On webgpu the weights are uploaded to the device once per model (deviceWeights.ts, storage
// 'device'), not once per session variant as with external data ('file'). Checked for real on
// whatever Vulkan device is here: parity of every hook with the CPU provider, the bytes kept on
// the device, and, on a software adapter (Mesa's lavapipe, whose device memory is this process's
// memory), that new variants add almost nothing to resident memory. Skipped with the reason when
// webgpu cannot start.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dla } from '../../kernels/readouts/dla';
import { logitLens } from '../../kernels/readouts/logitLens';
import { HookedGPT2, type Intervention } from '../../src/engine/model';
import { gpuDevicePresent } from '../../src/engine/ort/session';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import type { GPT2Weights, Tensor } from '../../src/engine/types';
import { relErr } from '../support/compare';
import { randomWeights, tinyConfig } from './helpers/engineFixtures';

const TIMEOUT = 300_000;
/** providers.test.ts's webgpu tolerance (relErr per tensor). */
const TOL = 1e-4;
const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290];
const MiB = 2 ** 20;

function vulkanDeviceLikely(): boolean {
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  return dirs.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
}

/** Every weight tensor's bytes (each array once). */
function weightBytes(w: GPT2Weights): number {
  const seen = new Set<Float32Array>();
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    const t = v as Partial<Tensor>;
    if (t.data instanceof Float32Array) seen.add(t.data);
    else for (const x of Object.values(v)) visit(x);
  };
  visit(w);
  return [...seen].reduce((s, a) => s + a.byteLength, 0);
}

function rssAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

describe('weights kept on the webgpu device', { timeout: TIMEOUT }, () => {
  // d_model 256: the embedding and unembedding are 49 MiB each, so a per-session copy stands out.
  const cfg = tinyConfig({ d_model: 256, n_heads: 4, d_head: 64, d_mlp: 1024 });
  const weights = randomWeights(cfg, 8);
  let cpu: HookedGPT2;
  let why = '';
  before(async () => {
    cpu = await HookedGPT2.fromWeights(cfg, weights, { device: 'cpu', threads: 1 });
    if (!vulkanDeviceLikely()) why = 'no Vulkan ICD installed (mesa-vulkan-drivers from bookworm-backports gives one)';
  });
  after(async () => cpu.dispose());

  async function onWebgpu(t: { skip: (why: string) => void }, storage?: 'file' | 'device'): Promise<HookedGPT2 | null> {
    if (why !== '') {
      t.skip(why);
      return null;
    }
    // Variants stay open while a test counts them (see releaseIdleVariantsAfterMs).
    const m = await HookedGPT2.fromWeights(cfg, weights, {
      device: 'webgpu',
      threads: 1,
      releaseIdleVariantsAfterMs: 0,
      ...(storage ? { weightStorage: storage } : {}),
    });
    if (m.provider !== 'webgpu') {
      t.skip(`webgpu could not start here: ${m.notice ?? ''}`);
      await m.dispose();
      return null;
    }
    return m;
  }

  it("is webgpu's default: every hook and the logits equal the CPU provider's, with and without an intervention", async (t) => {
    const m = await onWebgpu(t);
    if (m === null) return;
    try {
      const want = await cpu.runWithCache(TOKENS);
      const got = await m.runWithCache(TOKENS);
      assert.equal(m.weightPlacement.storage, 'device');
      for (const name of want.cache.names()) {
        const e = relErr(got.cache.get(name).data, want.cache.get(name).data);
        assert.ok(e < TOL, `${name}: relative error ${e.toExponential(2)}`);
      }
      assert.ok(relErr(got.logits.data, want.logits.data) < TOL);
      const iv: Intervention[] = [{ kind: 'ablateHeads', layer: 1, heads: [2] }];
      const a = await m.runWithInterventions(TOKENS, iv);
      const b = await cpu.runWithInterventions(TOKENS, iv);
      assert.ok(relErr(a.logits.data, b.logits.data) < TOL, 'a variant with an intervention reads the same device weights');
    } finally {
      await m.dispose();
    }
    assert.equal(m.weightPlacement.deviceBytes, 0, 'dispose frees the device copy');
  });

  it('holds each weight once on the device, whatever the number of variants', async (t) => {
    const m = await onWebgpu(t);
    if (m === null) return;
    try {
      await m.run(TOKENS);
      const once = m.weightPlacement.deviceBytes;
      // Every large weight once: at least the embedding and unembedding, at most all the weights.
      assert.ok(once >= 2 * cfg.d_vocab * cfg.d_model * 4, `${once} bytes on the device`);
      assert.ok(once <= weightBytes(weights), `${once} bytes on the device, weights ${weightBytes(weights)}`);
      await m.run(TOKENS, { logitsAt: 'last' });
      await m.runWithCache(TOKENS, { names: ['blocks.0.hook_resid_post'] });
      await m.runWithInterventions(TOKENS, [{ kind: 'ablateHeads', layer: 0, heads: [1] }]);
      assert.ok(m.openSessions >= 4);
      assert.equal(m.weightPlacement.deviceBytes, once, 'new variants upload nothing');
    } finally {
      await m.dispose();
    }
  });

  it('on a software adapter (device memory = this process), four new variants add less than half the weights to resident memory', async (t) => {
    if (gpuDevicePresent()) return t.skip('a hardware GPU is here: its memory is not this process’s resident memory');
    const m = await onWebgpu(t);
    if (m === null) return;
    try {
      await m.run(TOKENS);
      const before = rssAfterGc();
      await m.run(TOKENS, { logitsAt: 'last' });
      await m.runWithCache(TOKENS, { names: ['blocks.0.hook_resid_post'] });
      await m.runWithCache(TOKENS);
      await m.runWithInterventions(TOKENS, [{ kind: 'ablateHeads', layer: 0, heads: [1] }]);
      const grown = rssAfterGc() - before;
      const bytes = weightBytes(weights);
      // With 'file' storage each of these variants uploaded its own copy: +105 to +123 MiB each here
      // for these 98 MiB of weights (docs/GPU.md).
      assert.ok(grown < bytes / 2, `resident memory grew ${(grown / MiB).toFixed(0)} MiB for ${(bytes / MiB).toFixed(0)} MiB of weights`);
    } finally {
      await m.dispose();
    }
  });
});

describe('a tied checkpoint on the webgpu device (W_U read through W_E)', { timeout: TIMEOUT }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-device-tied-'));
  let cpu: HookedGPT2;
  before(async () => {
    await generateTinyGpt2(dir, { seed: 9, tiedLmHead: true });
    cpu = await HookedGPT2.fromPretrained(dir, { device: 'cpu', threads: 1 });
  });
  after(async () => {
    await cpu.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the logits, the logit lens and direct logit attribution equal the CPU provider’s', async (t) => {
    if (!vulkanDeviceLikely()) return t.skip('no Vulkan ICD installed');
    const m = await HookedGPT2.fromPretrained(dir, { device: 'webgpu', threads: 1 });
    try {
      if (m.provider !== 'webgpu') return t.skip(`webgpu could not start here: ${m.notice ?? ''}`);
      assert.equal(m.weightPlacement.storage, 'device');
      assert.ok(relErr((await m.run(TOKENS)).data, (await cpu.run(TOKENS)).data) < TOL, 'logits');
      assert.ok(relErr((await m.run(TOKENS, { logitsAt: 'last' })).data, (await cpu.run(TOKENS, { logitsAt: 'last' })).data) < TOL, 'last');
      const questions = [logitLens(0, TOKENS.length), dla(3, 2068)];
      const [got, want] = [await m.readout(TOKENS, questions), await cpu.readout(TOKENS, questions)];
      assert.ok(
        relErr(got.get('logitLens')!['topProbs']!.data as Float32Array, want.get('logitLens')!['topProbs']!.data as Float32Array) < TOL,
      );
      assert.ok(relErr(got.get('dla')!['values']!.data as Float32Array, want.get('dla')!['values']!.data as Float32Array) < TOL);
    } finally {
      await m.dispose();
    }
  });
});
