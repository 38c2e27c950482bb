// The key/value cache on webgpu stays on the device (kvCache.ts): the present keys and values are
// left in gpu buffers (onnxruntime-node's preferredOutputLocation 'gpu-buffer'), fed back as the
// next step's past and disposed when replaced. Checked for real on whatever Vulkan device is here
// (Mesa's lavapipe in CI and on the dev machine), against the CPU provider's full forward at the
// webgpu tolerance of providers.test.ts; skipped with the reason when webgpu cannot start.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { generate } from '../../src/engine/generate';
import { advanceCache, advanceCacheWith } from '../../src/engine/incremental';
import { emptyPast, KeyValueCache, PastElsewhereError, type PastKeyValues } from '../../src/engine/kvCache';
import { HookedGPT2 } from '../../src/engine/model';
import { isDeviceTensor } from '../../src/engine/ort/session';
import { DocumentCaches } from '../../src/engine/worker/documentCaches';
import { relErr } from '../support/compare';
import { seededRandom } from '../support/random';
import { randomWeights, tinyConfig } from './helpers/engineFixtures';

const TIMEOUT = 300_000;
/** providers.test.ts's webgpu tolerance (relErr per tensor). */
const TOL = 1e-4;
const cfg = tinyConfig(); // n_ctx 32
const N = cfg.n_ctx;
const rnd = seededRandom(29);
const TOKENS = [50256, ...Array.from({ length: N - 1 }, () => Math.floor(rnd() * 50000))];

function vulkanDeviceLikely(): boolean {
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  return dirs.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
}

function deviceTensorsOf(past: PastKeyValues): number {
  return past.layers.flatMap((l) => [l.key, l.value]).filter(isDeviceTensor).length;
}

describe('key/value cache on the webgpu device', { timeout: TIMEOUT }, () => {
  const weights = randomWeights(cfg, 5);
  let cpu: HookedGPT2;
  let gpu: HookedGPT2 | null = null;
  let why = '';
  before(async () => {
    cpu = await HookedGPT2.fromWeights(cfg, weights, { device: 'cpu', threads: 1 });
    if (!vulkanDeviceLikely()) {
      why = 'no Vulkan ICD installed (mesa-vulkan-drivers from bookworm-backports gives one)';
      return;
    }
    const m = await HookedGPT2.fromWeights(cfg, weights, { device: 'webgpu', threads: 1 });
    if (m.provider !== 'webgpu') {
      why = `webgpu could not start here: ${m.notice ?? ''}`;
      await m.dispose();
      return;
    }
    gpu = m;
  });
  after(async () => {
    await cpu.dispose();
    await gpu?.dispose();
  });

  it("typing token by token: the cache lives on the device, each step's logits equal the CPU's full forward, old buffers are freed", async (t) => {
    if (gpu === null) return t.skip(why);
    const cache = new KeyValueCache(cfg);
    assert.equal(cache.location, 'cpu', 'an empty cache is the host-side empty past');
    let previous: PastKeyValues | null = null;
    for (let n = 1; n <= N; n++) {
      const r = await advanceCache(gpu, cache, TOKENS.slice(0, n));
      assert.equal(r.reused, n - 1);
      assert.equal(cache.location, 'gpu-buffer', `after ${n} tokens the keys and values stay on the device`);
      assert.equal(deviceTensorsOf(cache.past), 2 * cfg.n_layers);
      assert.equal(cache.bytes, 2 * cfg.n_layers * n * cfg.d_model * 4, 'bytes count the device buffers');
      const full = await cpu.run(TOKENS.slice(0, n), { logitsAt: 'last' });
      const e = relErr(r.logits.data, full.data);
      assert.ok(e < TOL, `after ${n} tokens: relative error ${e.toExponential(2)}`);
      if (previous !== null) {
        // The past this step read was replaced by its present and freed.
        for (const l of previous.layers) for (const x of [l.key, l.value]) assert.ok(isDeviceTensor(x) && x.disposed, 'old buffer freed');
      }
      previous = cache.past;
    }
    const last = cache.past;
    cache.dispose();
    for (const l of last.layers)
      for (const x of [l.key, l.value]) assert.ok(isDeviceTensor(x) && x.disposed, 'dispose frees the device buffers');
  });

  it('an earlier edit slices the cache on the device and the new logits still equal the CPU full forward', async (t) => {
    if (gpu === null) return t.skip(why);
    const cache = new KeyValueCache(cfg);
    try {
      await advanceCache(gpu, cache, TOKENS.slice(0, 24));
      const edited = [...TOKENS.slice(0, 10), 318, 257, ...TOKENS.slice(12, 26)];
      const r = await advanceCache(gpu, cache, edited, { logitsAt: 'all' });
      assert.equal(r.reused, 10);
      assert.equal(cache.location, 'gpu-buffer');
      const full = await cpu.run(edited);
      const rows = full.data.subarray(10 * cfg.d_vocab_out);
      assert.ok(relErr(r.logits.data, rows) < TOL, 'logits of the re-run positions');
      // Deleting at the end: a truncation to 15 positions, then the last token runs again.
      const shorter = edited.slice(0, 15);
      const cut = await advanceCache(gpu, cache, shorter);
      assert.equal(cut.reused, 14);
      assert.equal(cache.length, 15);
      assert.ok(relErr(cut.logits.data, (await cpu.run(shorter, { logitsAt: 'last' })).data) < TOL);
      // The split at n_ctx − 1: a past of 31 positions and one new token.
      await advanceCache(gpu, cache, TOKENS.slice(0, N - 1));
      const lastStep = await advanceCache(gpu, cache, TOKENS);
      assert.equal(lastStep.reused, N - 1);
      assert.ok(relErr(lastStep.logits.data, (await cpu.run(TOKENS, { logitsAt: 'last' })).data) < TOL);
    } finally {
      cache.dispose();
    }
  });

  it('hooks at the new positions come back to the host beside a device-resident present', async (t) => {
    if (gpu === null) return t.skip(why);
    const s = 20;
    const pre = await gpu.forwardIncremental(TOKENS.slice(0, s), emptyPast(cfg));
    assert.equal(pre.present.location, 'gpu-buffer');
    const names = ['blocks.1.hook_resid_post', 'blocks.0.attn.hook_pattern'];
    const step = await gpu.forwardIncremental(TOKENS.slice(s), pre.present, { names, logitsAt: 'all' });
    try {
      const full = await cpu.runWithCache(TOKENS, { names });
      const resid = step.activations.get(names[0]!)!;
      const want = full.cache.get(names[0]!).data.subarray(s * cfg.d_model);
      assert.ok(relErr(resid.data, want) < TOL, 'resid_post at the new positions');
      assert.deepEqual(step.activations.get(names[1]!)!.dims, [1, cfg.n_heads, N - s, N]);
    } finally {
      for (const p of [pre.present, step.present])
        for (const l of p.layers) for (const x of [l.key, l.value]) if (isDeviceTensor(x)) x.dispose();
    }
  });

  it("inline logits' readouts run on the device cache and give the CPU's top tokens", async (t) => {
    if (gpu === null) return t.skip(why);
    const onGpu = new DocumentCaches();
    const onCpu = new DocumentCaches();
    try {
      for (const n of [12, 13, 20, 8]) {
        const a = await onGpu.nextToken(gpu, 'doc', TOKENS.slice(0, n), 5);
        const b = await onCpu.nextToken(cpu, 'doc', TOKENS.slice(0, n), 5);
        assert.deepEqual([...a.topIds], [...b.topIds], `top-5 ids after ${n} tokens`);
        assert.ok(relErr(a.topProbs, b.topProbs) < TOL);
        assert.equal(a.reused, b.reused);
      }
    } finally {
      onGpu.clear();
      onCpu.clear();
    }
  });

  it('a cache outlives the release of the session that made its buffers (a panel closing releases readout sessions)', async (t) => {
    if (gpu === null) return t.skip(why);
    const onGpu = new DocumentCaches();
    try {
      await onGpu.nextToken(gpu, 'doc', TOKENS.slice(0, 14), 5);
      await gpu.releaseReadouts(); // the session whose outputs the cache holds is released…
      const a = await onGpu.nextToken(gpu, 'doc', TOKENS.slice(0, 15), 5); // …and its buffers are still fed
      assert.equal(a.reused, 14);
      const want = await cpu.run(TOKENS.slice(0, 15), { logitsAt: 'last' });
      const best = want.data.indexOf(Math.max(...want.data));
      assert.equal(a.topIds[0], best, 'the top token after the release equals the CPU full forward');
    } finally {
      onGpu.clear();
    }
  });

  it('a cache disposed while a step reads it frees its buffers only after the step', async (t) => {
    if (gpu === null) return t.skip(why);
    const cache = new KeyValueCache(cfg);
    await advanceCache(gpu, cache, TOKENS.slice(0, 10));
    const held = cache.past;
    const step = cache.using(gpu.forwardIncremental([TOKENS[10]!], held));
    cache.dispose(); // as the worker does when the model is replaced mid-request
    const first = held.layers[0]!.key;
    assert.ok(isDeviceTensor(first) && !first.disposed, 'still readable by the running step');
    const r = await step;
    assert.ok(relErr(r.logits.data, (await cpu.run(TOKENS.slice(0, 11), { logitsAt: 'last' })).data) < TOL);
    await new Promise((res) => setImmediate(res));
    assert.ok(first.disposed, 'freed once the step finished');
    assert.throws(() => cache.extend([TOKENS[10]!], r.present), /disposed/);
    const p = r.present.layers[0]!.key;
    assert.ok(isDeviceTensor(p) && p.disposed, 'a present handed to a disposed cache is freed, not leaked');
  });

  it('greedy generation on the device cache picks the argmax of the CPU full forward at every step', async (t) => {
    if (gpu === null) return t.skip(why);
    const prompt = TOKENS.slice(0, 6);
    const r = await generate(gpu, prompt, { maxNewTokens: 12, temperature: 0, stopAtEndOfText: false });
    assert.equal(r.tokens.length, 12);
    const seq = [...prompt];
    for (const tok of r.tokens) {
      const full = await cpu.run(seq, { logitsAt: 'last' });
      assert.equal(tok.id, full.data.indexOf(Math.max(...full.data)), `step ${seq.length - prompt.length}`);
      seq.push(tok.id);
    }
  });

  it('keepPastOnDevice: false copies the cache to the host on webgpu too', async (t) => {
    if (gpu === null) return t.skip(why);
    const m = await HookedGPT2.fromWeights(cfg, weights, { device: 'webgpu', threads: 1, keepPastOnDevice: false });
    const cache = new KeyValueCache(cfg);
    try {
      const r = await advanceCache(m, cache, TOKENS.slice(0, 9));
      assert.equal(cache.location, 'cpu');
      assert.ok(relErr(r.logits.data, (await cpu.run(TOKENS.slice(0, 9), { logitsAt: 'last' })).data) < TOL);
    } finally {
      cache.dispose();
      await m.dispose();
    }
  });

  it('a device cache handed to a model on the CPU is refused, and advanceCache computes it again there', async (t) => {
    if (gpu === null) return t.skip(why);
    const cache = new KeyValueCache(cfg);
    try {
      await advanceCache(gpu, cache, TOKENS.slice(0, 16));
      await assert.rejects(cpu.forwardIncremental([7], cache.past), PastElsewhereError);
      const r = await advanceCacheWith(cache, TOKENS.slice(0, 18), (fresh, past) => cpu.forwardIncremental(fresh, past));
      assert.equal(r.reused, 0, 'nothing reusable: the whole sequence ran on the CPU');
      assert.equal(cache.location, 'cpu');
      assert.ok(relErr(r.logits.data, (await cpu.run(TOKENS.slice(0, 18), { logitsAt: 'last' })).data) < 1e-5);
    } finally {
      cache.dispose();
    }
  });
});
