// Checkpoint loader on generated Hugging Face GPT-2 folders: the HF -> TransformerLens layout
// mapping checked element by element against the raw file, key styles (prefix, tied lm_head),
// stored dtypes, and a clear error for every broken folder.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultModelName, loadCheckpoint, type LoadedCheckpoint } from '../../src/engine/checkpoint/load';
import { generateTinyGpt2, ensureTinyGpt2 } from '../../src/engine/tinyGpt2';
import { readSafetensors } from '../../src/engine/safetensors/read';
import { writeSafetensors, type SafetensorsTensorToEncode } from '../../src/engine/safetensors/write';
import { bf16BitsToNumber, f16BitsToNumber, numberToBf16Bits, numberToF16Bits } from '../../src/engine/safetensors/dtypes';
import { blockTensorsScanned, processBlock, processWeights } from '../../src/engine/processing';
import { DEFAULT_PROCESSING, NO_PROCESSING, type ProcessingOptions } from '../../src/engine/types';

let root = '';
let plain: LoadedCheckpoint; // F32, untied, no prefix
let plainDir = '';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ml-ckpt-'));
  plainDir = join(root, 'plain');
  await generateTinyGpt2(plainDir, { seed: 7 });
  plain = await loadCheckpoint(plainDir);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('config maps to TransformerLens terms', () => {
  const { cfg, info } = plain;
  assert.equal(cfg.model_name, 'plain');
  assert.equal(cfg.n_layers, 2);
  assert.equal(cfg.d_model, 64);
  assert.equal(cfg.n_heads, 4);
  assert.equal(cfg.d_head, 16);
  assert.equal(cfg.d_mlp, 256);
  assert.equal(cfg.d_vocab, 50257);
  assert.equal(cfg.n_ctx, 1024);
  assert.equal(cfg.eps, 1e-5);
  assert.equal(cfg.normalization_type, 'LN');
  assert.deepEqual(info, { folder: plainDir, dtype: 'F32', prefixed: false, tiedLmHead: false, demo: true, nonFinite: [] });
});

test('weights are in TransformerLens layout, element by element against the raw Conv1D tensors', async () => {
  const { weights: w, cfg } = plain;
  const f = await readSafetensors(join(plainDir, 'model.safetensors'));
  const { d_model: d, d_head: dh, n_heads: H, d_vocab: V } = cfg;
  const cAttn = await f.getTensorF32('h.1.attn.c_attn.weight'); // [d, 3d]
  const cAttnB = await f.getTensorF32('h.1.attn.c_attn.bias');
  const cProj = await f.getTensorF32('h.1.attn.c_proj.weight'); // [d, d]
  const lmHead = await f.getTensorF32('lm_head.weight'); // [V, d]
  const b = w.blocks[1]!;
  assert.deepEqual(b.W_Q.dims, [H, d, dh]);
  assert.deepEqual(b.W_O.dims, [H, dh, d]);
  assert.deepEqual(b.b_V.dims, [H, dh]);
  assert.deepEqual(w.W_U.dims, [d, V]);
  for (const [h, m, k] of [
    [0, 0, 0],
    [2, 17, 5],
    [3, 63, 15],
  ] as const) {
    const idx = (h * d + m) * dh + k;
    assert.equal(b.W_Q.data[idx], cAttn[m * 3 * d + h * dh + k]);
    assert.equal(b.W_K.data[idx], cAttn[m * 3 * d + d + h * dh + k]);
    assert.equal(b.W_V.data[idx], cAttn[m * 3 * d + 2 * d + h * dh + k]);
    assert.equal(b.b_K.data[h * dh + k], cAttnB[d + h * dh + k]);
    // W_O[h, k, m] = c_proj[h * d_head + k, m]
    assert.equal(b.W_O.data[(h * dh + k) * d + m], cProj[(h * dh + k) * d + m]);
  }
  for (const [m, v] of [
    [0, 0],
    [5, 50256],
    [63, 12345],
  ] as const) {
    assert.equal(w.W_U.data[m * V + v], lmHead[v * d + m]);
  }
  assert.ok(w.b_U.data.every((x) => x === 0));
  assert.ok(
    w.blocks[0]!.ln1_w!.data.some((x) => Math.abs(x - 1) > 0.05),
    'LayerNorm weights are non-trivial',
  );
});

test('prefixed keys and a tied lm_head load to the same body, with W_U = W_E^T', async () => {
  const dir = join(root, 'prefix-tied');
  await generateTinyGpt2(dir, { seed: 7, prefix: true, tiedLmHead: true });
  const f = await readSafetensors(join(dir, 'model.safetensors'));
  assert.ok(f.has('transformer.h.0.attn.c_attn.weight') && !f.has('lm_head.weight') && f.has('transformer.h.0.attn.bias'));
  const { weights: w, info, cfg } = await loadCheckpoint(dir, { modelName: 'tiny' });
  assert.equal(cfg.model_name, 'tiny');
  assert.equal(info.prefixed, true);
  assert.equal(info.tiedLmHead, true);
  assert.deepEqual(w.blocks[1]!.W_V.data, plain.weights.blocks[1]!.W_V.data);
  assert.deepEqual(w.W_E.data, plain.weights.W_E.data);
  const { d_model: d, d_vocab: V } = cfg;
  for (const [m, v] of [
    [0, 1],
    [40, 50000],
  ] as const) {
    assert.equal(w.W_U.data[m * V + v], w.W_E.data[v * d + m]);
  }
  assert.notDeepEqual(w.W_U.data.subarray(0, 100), plain.weights.W_U.data.subarray(0, 100));
});

for (const dtype of ['F16', 'BF16'] as const) {
  test(`${dtype} checkpoint loads as the rounded F32 values`, async () => {
    const dir = join(root, dtype);
    await generateTinyGpt2(dir, { seed: 7, dtype });
    const { weights: w, info } = await loadCheckpoint(dir);
    assert.equal(info.dtype, dtype);
    const round =
      dtype === 'F16' ? (x: number) => f16BitsToNumber(numberToF16Bits(x)) : (x: number) => bf16BitsToNumber(numberToBf16Bits(x));
    const pairs: [Float32Array, Float32Array][] = [
      [w.blocks[0]!.W_in.data, plain.weights.blocks[0]!.W_in.data],
      [w.blocks[1]!.b_Q.data, plain.weights.blocks[1]!.b_Q.data],
      [w.ln_final_w!.data, plain.weights.ln_final_w!.data],
    ];
    for (const [got, f32] of pairs) {
      for (let i = 0; i < f32.length; i++) assert.equal(got[i], Math.fround(round(f32[i]!)));
    }
  });
}

test('n_inner other than 4 * n_embd sets d_mlp', async () => {
  const dir = join(root, 'inner');
  await generateTinyGpt2(dir, { n_layer: 1, n_embd: 16, n_head: 2, n_inner: 40 });
  const { cfg, weights } = await loadCheckpoint(dir);
  assert.equal(cfg.d_mlp, 40);
  assert.deepEqual(weights.blocks[0]!.W_out.dims, [40, 16]);
});

test('ensureTinyGpt2 generates once and reuses', async () => {
  const cache = join(root, 'cache');
  const a = await ensureTinyGpt2(cache, { n_layer: 1, n_embd: 16, n_head: 2, tiedLmHead: true });
  const stat1 = await fs.stat(join(a, 'model.safetensors'));
  const b = await ensureTinyGpt2(cache, { n_layer: 1, n_embd: 16, n_head: 2, tiedLmHead: true });
  assert.equal(a, b);
  assert.equal((await fs.stat(join(b, 'model.safetensors'))).mtimeMs, stat1.mtimeMs);
  assert.deepEqual(await fs.readdir(cache), [a.split('/').pop()]);
});

// Broken folders. A small model is generated once and rewritten with one thing wrong.
async function smallModel(name: string): Promise<{ dir: string; tensors: SafetensorsTensorToEncode[] }> {
  const dir = join(root, name);
  await generateTinyGpt2(dir, { n_layer: 1, n_embd: 16, n_head: 2, tiedLmHead: true });
  const f = await readSafetensors(join(dir, 'model.safetensors'));
  const tensors: SafetensorsTensorToEncode[] = [];
  for (const n of f.names()) {
    const t = await f.getTensor(n);
    tensors.push({ name: n, dims: t.dims, dtype: 'F32', data: t.data });
  }
  return { dir, tensors };
}

test('processing blocks as they are read (counting NaN/Inf as it goes) reports and computes what loading then processing does', async () => {
  // Odd sizes, so that the 4-row loops' remainders run: d_model 18, d_head 6, 18 rows in W_O.
  const dir = join(root, 'nonfinite-processed');
  await generateTinyGpt2(dir, { n_layer: 2, n_embd: 18, n_head: 3, n_inner: 30, tiedLmHead: true });
  const f = await readSafetensors(join(dir, 'model.safetensors'));
  const tensors: SafetensorsTensorToEncode[] = [];
  const planted: Record<string, [number, number][]> = {
    'h.0.attn.c_attn.weight': [
      [5, NaN],
      [18 + 7, Infinity],
      [2 * 18 * 3 + 40, NaN],
    ], // in W_Q, W_K and W_V
    'h.1.attn.c_proj.weight': [[17 * 18 + 3, -Infinity]], // the last row of W_O (a remainder row)
    'h.1.mlp.c_fc.weight': [[17 * 30 + 29, NaN]], // the last element of W_in (a remainder row of the fold)
    'h.0.mlp.c_proj.weight': [
      [0, NaN],
      [1, NaN],
      [29 * 18, Infinity],
    ],
    'h.1.attn.c_attn.bias': [[4, NaN]],
  };
  for (const n of f.names()) {
    const data = Float32Array.from((await f.getTensor(n)).data as Float32Array);
    for (const [i, v] of planted[n] ?? []) data[i] = v;
    tensors.push({ name: n, dims: [...f.tensors.get(n)!.dims], dtype: 'F32', data });
  }
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
  const switches: ProcessingOptions[] = [
    DEFAULT_PROCESSING,
    { fold_ln: true, center_writing_weights: false, center_unembed: false, fold_value_biases: true },
    { fold_ln: false, center_writing_weights: true, center_unembed: true, fold_value_biases: false },
    NO_PROCESSING,
  ];
  for (const processing of switches) {
    const loaded = await loadCheckpoint(dir);
    assert.deepEqual(loaded.info.nonFinite, [
      { name: 'h.0.attn.c_attn.weight', nan: 2, inf: 1 },
      { name: 'h.0.mlp.c_proj.weight', nan: 2, inf: 1 },
      { name: 'h.1.attn.c_attn.bias', nan: 1, inf: 0 },
      { name: 'h.1.attn.c_proj.weight', nan: 0, inf: 1 },
      { name: 'h.1.mlp.c_fc.weight', nan: 1, inf: 0 },
    ]);
    const reference = processWeights(loaded.cfg, loaded.weights, processing);
    const fused = await loadCheckpoint(dir, {
      onBlockScans: (cfg) => blockTensorsScanned(cfg, processing),
      onBlock: (l, block, cfg, scan) => processBlock(cfg, block, l, processing, { inPlace: true, scan }),
    });
    assert.deepEqual(fused.info.nonFinite, loaded.info.nonFinite, JSON.stringify(processing));
    assert.deepEqual(fused.warnings, loaded.warnings);
    const done = processWeights(fused.cfg, fused.weights, processing, { inPlace: true, blocksProcessed: true });
    done.weights.blocks.forEach((b, l) => {
      for (const [k, t] of Object.entries(b)) {
        const want = reference.weights.blocks[l]![k as keyof typeof b];
        if (t === null || want === null) assert.equal(t, want, `blocks.${l}.${k}`);
        else assert.deepEqual(bits(t.data), bits(want.data), `blocks.${l}.${k} ${JSON.stringify(processing)}`);
      }
    });
  }
});

test('missing config.json or model.safetensors names the path', async () => {
  const dir = join(root, 'empty');
  await fs.mkdir(dir);
  await assert.rejects(loadCheckpoint(dir), (e: Error) => e.message.includes(join(dir, 'config.json')) && /not found/.test(e.message));
  const { dir: d2 } = await smallModel('noweights');
  await fs.rm(join(d2, 'model.safetensors'));
  await assert.rejects(loadCheckpoint(d2), (e: Error) => e.message.includes(join(d2, 'model.safetensors')) && /not found/.test(e.message));
});

test('a tensor of the wrong shape is named with both shapes', async () => {
  const { dir, tensors } = await smallModel('badshape');
  const i = tensors.findIndex((t) => t.name === 'h.0.mlp.c_fc.weight');
  tensors[i] = { ...tensors[i]!, dims: [64, 16] }; // transposed
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  await assert.rejects(loadCheckpoint(dir), /tensor "h\.0\.mlp\.c_fc\.weight" has shape \[64, 16\], expected \[16, 64\]/);
});

test('a missing tensor is named', async () => {
  const { dir, tensors } = await smallModel('missing');
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    tensors.filter((t) => t.name !== 'h.0.ln_2.bias'),
  );
  await assert.rejects(loadCheckpoint(dir), /missing tensor "h\.0\.ln_2\.bias" \(expected shape \[16\]\)/);
});

test('an unexpected tensor (e.g. a layer the config does not have) is named', async () => {
  const { dir, tensors } = await smallModel('extra');
  tensors.push({ name: 'h.1.ln_1.weight', dims: [16], dtype: 'F32', data: new Float32Array(16) });
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  await assert.rejects(loadCheckpoint(dir), /unexpected tensor "h\.1\.ln_1\.weight"/);
});

test('config problems are specific', async () => {
  const { dir } = await smallModel('badcfg');
  const cfgPath = join(dir, 'config.json');
  const good = JSON.parse(await fs.readFile(cfgPath, 'utf8')) as Record<string, unknown>;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ activation_function: 'relu' }, /activation_function is "relu"; only "gelu_new"/],
    [{ model_type: 'llama' }, /model_type is "llama"/],
    [{ n_head: 3 }, /n_embd 16 is not divisible by n_head 3/],
    [{ n_layer: 0 }, /n_layer must be a positive integer/],
    [{ n_layer: 2 }, /config\.json: n_layer is 2, but .*model\.safetensors has tensors for 1 layer \(h\.0 … h\.0\)/],
  ];
  for (const [patch, error] of cases) {
    await fs.writeFile(cfgPath, JSON.stringify({ ...good, ...patch }));
    await assert.rejects(loadCheckpoint(dir), error);
  }
  await fs.writeFile(cfgPath, '{ not json');
  await assert.rejects(loadCheckpoint(dir), (e: Error) => e.message.includes(cfgPath) && /not valid JSON/.test(e.message));
});

test('model_name of a Hugging Face cache snapshot is the repository name, not the commit', () => {
  const commit = 'bc60d5b2b659743052335695a94ed419e68fc187';
  assert.equal(defaultModelName(join('/c', 'models--openai-community--gpt2', 'snapshots', commit)), 'gpt2');
  assert.equal(defaultModelName(join('/c', 'models--gpt2-medium', 'snapshots', commit)), 'gpt2-medium');
  // Anything else keeps its folder name, even a commit-like one outside a snapshots folder.
  assert.equal(defaultModelName(join('/c', 'x', commit)), commit);
  assert.equal(defaultModelName('/models/my-gpt2'), 'my-gpt2');
});

test('sizes in config.json are checked against the file before anything is sized from them', async () => {
  // n_layer: 1000000 used to build twelve million expected shapes (26 s, 2 GB) before failing.
  const { dir } = await smallModel('liarcfg');
  const cfgPath = join(dir, 'config.json');
  const good = JSON.parse(await fs.readFile(cfgPath, 'utf8')) as Record<string, unknown>;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ n_layer: 1_000_000 }, /config\.json: n_layer is 1000000, but .*model\.safetensors has tensors for 1 layer/],
    [
      { vocab_size: 1_000_000_000 },
      /config\.json: vocab_size is 1000000000, but .*has "wte\.weight" of shape \[50257, 16\] \(50257 rows\)/,
    ],
    [{ n_embd: 4096, n_head: 2 }, /config\.json: n_embd is 4096, but .*"wte\.weight" of shape \[50257, 16\] \(width 16\)/],
    [{ n_positions: 1 << 30 }, /config\.json: n_positions is 1073741824, but .*"wpe\.weight" of shape \[1024, 16\] \(1024 positions\)/],
    [{ n_inner: 1 << 28 }, /config\.json: n_inner is 268435456, but .*"h\.0\.mlp\.c_fc\.weight" of shape \[16, 64\] \(MLP width 64\)/],
  ];
  for (const [patch, error] of cases) {
    await fs.writeFile(cfgPath, JSON.stringify({ ...good, ...patch }));
    await assert.rejects(loadCheckpoint(dir), error);
  }
});

test('non-finite weights load, and are reported by tensor name with counts', async () => {
  const { dir, tensors } = await smallModel('nonfinite');
  const set = (name: string, values: number[]): void => {
    const t = tensors.find((x) => x.name === name)!;
    const data = Float32Array.from(t.data as Float32Array);
    values.forEach((v, i) => (data[i * 3] = v));
    Object.assign(t, { data });
  };
  set('h.0.attn.c_proj.weight', [NaN, NaN, Infinity]);
  set('ln_f.bias', [-Infinity]);
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  const loaded = await loadCheckpoint(dir);
  assert.deepEqual(loaded.info.nonFinite, [
    { name: 'h.0.attn.c_proj.weight', nan: 2, inf: 1 },
    { name: 'ln_f.bias', nan: 0, inf: 1 },
  ]);
  assert.equal(loaded.warnings.length, 1);
  assert.match(
    loaded.warnings[0]!,
    /2 tensors hold non-finite values: "h\.0\.attn\.c_proj\.weight" \(2 NaN, 1 Inf\), "ln_f\.bias" \(1 Inf\)/,
  );
  assert.deepEqual(plain.warnings, []);
});
