// The processed-weights cache (checkpoint/processedCache.ts, ModelOptions.processedWeightsCache):
// a load read back from it gives the same model as processing the checkpoint again, bit for bit
// (every weight, its 16-bit bits, the tie vectors, the config, the warnings, the logits), for each
// dtype, tied and untied, with and without processing; and an entry that does not belong (another
// checkpoint, a truncated or foreign file) is never used. Real files, real onnxruntime sessions.
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { halfSourceOf } from '../../src/engine/halfSource';
import { HookedGPT2, type ModelOptions, type ProcessedCacheState } from '../../src/engine/model';
import { writeSafetensors } from '../../src/engine/safetensors/write';
import { readSafetensors } from '../../src/engine/safetensors/read';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import type { GPT2Weights, Tensor } from '../../src/engine/types';

let root: string;
before(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'model-lens-processed-cache-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const TOKENS = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13];

/** Every weight of `w` by name, with what identifies its values exactly: 16-bit bits or float32 data. */
function weightBits(w: Readonly<GPT2Weights>): Map<string, Uint16Array | Float32Array | null> {
  const out = new Map<string, Uint16Array | Float32Array | null>();
  const put = (name: string, t: Tensor | null): void => {
    out.set(name, t === null ? null : (halfSourceOf(t)?.bits ?? t.data));
  };
  put('W_E', w.W_E);
  put('W_pos', w.W_pos);
  w.blocks.forEach((b, l) => {
    for (const [k, t] of Object.entries(b)) put(`blocks.${l}.${k}`, t as Tensor | null);
  });
  put('ln_final_w', w.ln_final_w);
  put('ln_final_b', w.ln_final_b);
  put('b_U', w.b_U);
  // Tied: computed from W_E and the tie vectors, so equal exactly when they are.
  out.set('W_U (as read)', w.W_U.data);
  return out;
}

function assertSameModel(cached: HookedGPT2, fresh: HookedGPT2): void {
  assert.deepEqual(cached.cfg, fresh.cfg);
  assert.deepEqual(cached.loadWarnings, fresh.loadWarnings);
  assert.deepEqual(cached.processing, fresh.processing);
  const a = weightBits(cached.processedWeights);
  const b = weightBits(fresh.processedWeights);
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, bits] of a) {
    const other = b.get(name)!;
    if (bits === null || other === null) {
      assert.equal(bits, other, name);
      continue;
    }
    assert.equal(bits.constructor, other.constructor, `${name}: stored the same way`);
    assert.ok(
      Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength).equals(Buffer.from(other.buffer, other.byteOffset, other.byteLength)),
      `${name}: bit for bit`,
    );
  }
  assert.deepEqual(cached.processedWeights.tiedUnembed, fresh.processedWeights.tiedUnembed);
}

async function load(folder: string, opts: ModelOptions): Promise<{ model: HookedGPT2; state: ProcessedCacheState | null }> {
  const model = await HookedGPT2.fromPretrained(folder, { device: 'cpu', threads: 1, ...opts });
  return { model, state: await model.processedCacheState };
}

describe('processed-weights cache', () => {
  const cases: { dtype: 'fp32' | 'fp16' | 'bf16'; tied: boolean; processing: boolean }[] = [
    { dtype: 'fp32', tied: true, processing: true },
    { dtype: 'fp32', tied: false, processing: true },
    { dtype: 'fp32', tied: true, processing: false },
    { dtype: 'fp16', tied: true, processing: true },
    { dtype: 'bf16', tied: false, processing: true },
  ];
  for (const c of cases) {
    it(`a load read back from the cache is the processed model, bit for bit (${c.dtype}, ${c.tied ? 'tied' : 'untied'}, ${c.processing ? 'processed' : 'no processing'})`, async () => {
      const folder = join(root, `m-${c.dtype}-${c.tied}-${c.processing}`);
      await generateTinyGpt2(folder, { seed: 5, tiedLmHead: c.tied });
      const cache = join(root, `cache-${c.dtype}-${c.tied}-${c.processing}`);
      const opts: ModelOptions = { dtype: c.dtype, processing: c.processing, processedWeightsCache: cache };
      const first = await load(folder, opts);
      assert.equal(first.state?.state, 'written', JSON.stringify(first.state));
      const again = await load(folder, opts);
      assert.deepEqual(again.state, { state: 'read', path: first.state!.path });
      const plain = await HookedGPT2.fromPretrained(folder, { device: 'cpu', threads: 1, dtype: c.dtype, processing: c.processing });
      try {
        assert.equal(plain.processedCacheState, null, 'no cache asked for, none used');
        assertSameModel(again.model, plain);
        assertSameModel(first.model, plain);
        const [x, y] = await Promise.all([again.model.run(TOKENS), plain.run(TOKENS)]);
        assert.ok(
          Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength).equals(
            Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength),
          ),
          'logits bit for bit',
        );
      } finally {
        await Promise.all([first.model.dispose(), again.model.dispose(), plain.dispose()]);
      }
    });
  }

  it('keeps the load warnings: non-finite weights are still reported by name from a cached load', async () => {
    const folder = join(root, 'nonfinite');
    await generateTinyGpt2(folder, { seed: 6, tiedLmHead: true });
    // Plant a NaN in ln_f.bias (the loader reports it by its name in the file).
    const file = await readSafetensors(join(folder, 'model.safetensors'));
    const tensors = await Promise.all(
      file.names().map(async (name) => {
        const t = await file.getTensor(name);
        if (name === 'ln_f.bias') t.data[3] = NaN;
        return { name, dims: t.dims, dtype: 'F32' as const, data: t.data };
      }),
    );
    await writeSafetensors(join(folder, 'model.safetensors'), tensors);
    const cache = join(root, 'cache-nonfinite');
    const first = await load(folder, { processedWeightsCache: cache });
    const again = await load(folder, { processedWeightsCache: cache });
    try {
      assert.equal(again.state?.state, 'read');
      assert.match(again.model.loadWarnings.join('\n'), /ln_f\.bias.*1 NaN/);
      assert.deepEqual(again.model.loadWarnings, first.model.loadWarnings);
    } finally {
      await Promise.all([first.model.dispose(), again.model.dispose()]);
    }
  });

  it('a changed checkpoint is processed again, not read from the old entry', async () => {
    const folder = join(root, 'changed');
    await generateTinyGpt2(folder, { seed: 7 });
    const cache = join(root, 'cache-changed');
    const before = await load(folder, { processedWeightsCache: cache });
    await before.model.dispose();
    await generateTinyGpt2(folder, { seed: 8 }); // a new download of the same name: other weights
    const afterChange = await load(folder, { processedWeightsCache: cache });
    const plain = await HookedGPT2.fromPretrained(folder, { device: 'cpu', threads: 1 });
    try {
      assert.equal(afterChange.state?.state, 'written', JSON.stringify(afterChange.state));
      assert.notEqual(afterChange.state!.path, before.state!.path);
      assertSameModel(afterChange.model, plain);
    } finally {
      await Promise.all([afterChange.model.dispose(), plain.dispose()]);
    }
  });

  it('a truncated or foreign entry is not used: the load processes the checkpoint and writes the entry again', async () => {
    const folder = join(root, 'damaged');
    await generateTinyGpt2(folder, { seed: 9 });
    const cache = join(root, 'cache-damaged');
    const first = await load(folder, { processedWeightsCache: cache });
    await first.model.dispose();
    const entry = first.state!.path;
    const plain = await HookedGPT2.fromPretrained(folder, { device: 'cpu', threads: 1 });
    try {
      // Truncated (a disk that filled, a copy cut short).
      const size = (await fs.stat(entry)).size;
      await fs.truncate(entry, size - 1000);
      const cut = await load(folder, { processedWeightsCache: cache });
      await cut.model.dispose();
      assert.equal(cut.state?.state, 'written');
      assert.match((cut.state as { why: string }).why, /^unreadable: .*past the end|^unreadable: .*truncated|^unreadable/);
      assertSameModel(cut.model, plain);
      // Another model's entry under this one's name: its key says so.
      const fp16 = await load(folder, { processedWeightsCache: cache, dtype: 'fp16' });
      await fp16.model.dispose();
      await fs.copyFile(fp16.state!.path, entry);
      const foreign = await load(folder, { processedWeightsCache: cache });
      assert.deepEqual(foreign.state, { state: 'written', path: entry, why: 'made for another checkpoint, dtype or processing' });
      assertSameModel(foreign.model, plain);
      await foreign.model.dispose();
      const mended = await load(folder, { processedWeightsCache: cache });
      assert.equal(mended.state?.state, 'read');
      assertSameModel(mended.model, plain);
      await mended.model.dispose();
    } finally {
      await plain.dispose();
    }
  });

  it('keeps the two most recently used entries and removes dead temporary files', async () => {
    const folder = join(root, 'evict');
    await generateTinyGpt2(folder, { seed: 10 });
    const cache = join(root, 'cache-evict');
    await fs.mkdir(cache, { recursive: true });
    const dead = join(cache, '.old.safetensors.123.abc.tmp');
    await fs.writeFile(dead, 'a write whose process died');
    const longAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await fs.utimes(dead, longAgo, longAgo);
    const paths: string[] = [];
    for (const dtype of ['fp32', 'fp16'] as const) {
      const { model, state } = await load(folder, { processedWeightsCache: cache, dtype });
      await model.dispose();
      paths.push(state!.path);
    }
    // fp32 is used again (read: now the most recent), then bf16 is written: fp16 goes.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const reread = await load(folder, { processedWeightsCache: cache, dtype: 'fp32' });
    await reread.model.dispose();
    assert.equal(reread.state?.state, 'read');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const bf16 = await load(folder, { processedWeightsCache: cache, dtype: 'bf16' });
    await bf16.model.dispose();
    const left = (await fs.readdir(cache)).map((n) => join(cache, n)).sort();
    assert.deepEqual(left, [paths[0]!, bf16.state!.path].sort());
  });
});
