// ActivationCache on a small hand-built cache (2 layers, d_model 4, 2 heads of d_head 2,
// vocab 3, batch 2, pos 3). The cache is built consistently (resid_pre + attn_out = resid_mid,
// attn_out = sum of head results + b_O, …) so TransformerLens's identities can be checked,
// and a few entries are checked against values worked out by hand.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActivationCache, getActName } from '../../src/engine/activationCache';
import { writeSafetensors } from '../../src/engine/safetensors/write';
import { readSafetensors } from '../../src/engine/safetensors/read';
import type { BlockWeights, GPT2Weights, HookedGPT2Config, Tensor } from '../../src/engine/types';

const cfg: HookedGPT2Config = {
  model_name: 'hand',
  n_layers: 2,
  d_model: 4,
  n_heads: 2,
  d_head: 2,
  d_mlp: 8,
  d_vocab: 3,
  d_vocab_out: 3,
  n_ctx: 8,
  eps: 1e-5,
  act_fn: 'gelu_new',
  normalization_type: 'LNPre',
  use_attn_result: false,
  use_split_qkv_input: false,
  use_hook_mlp_in: false,
  use_attn_in: false,
};
const B = 2;
const P = 3;
const D = 4;
const H = 2;
const DH = 2;

// Small deterministic values (quarter steps keep the arithmetic exact in float32).
function fill(dims: number[], seed: number): Tensor {
  const n = dims.reduce((a, x) => a * x, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (((i * 7 + seed * 13) % 11) - 5) / 4;
  return { dims, data };
}
const add = (a: Tensor, b: Tensor): Tensor => ({ dims: a.dims, data: a.data.map((x, i) => x + b.data[i]!) });

// W_O for head 0 and 1: [head, d_head, d_model].
const W_O: Tensor = { dims: [H, DH, D], data: new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, /* head 1 */ 0, 0, 2, 0, 1, 1, 1, 1]) };
const W_U: Tensor = { dims: [D, 3], data: new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, -1]) }; // [d_model, d_vocab]
const b_U: Tensor = { dims: [3], data: new Float32Array([0.5, 0, -0.5]) };
const zero = (dims: number[]): Tensor => ({ dims, data: new Float32Array(dims.reduce((a, x) => a * x, 1)) });
const block = (): BlockWeights => ({
  ln1_w: null,
  ln1_b: null,
  W_Q: zero([H, D, DH]),
  W_K: zero([H, D, DH]),
  W_V: zero([H, D, DH]),
  W_O,
  b_Q: zero([H, DH]),
  b_K: zero([H, DH]),
  b_V: zero([H, DH]),
  b_O: fill([D], 9),
  ln2_w: null,
  ln2_b: null,
  W_in: zero([D, 8]),
  b_in: zero([8]),
  W_out: zero([8, D]),
  b_out: zero([D]),
});
const weights: GPT2Weights = {
  W_E: zero([3, D]),
  W_pos: zero([8, D]),
  blocks: [block(), block()],
  ln_final_w: null,
  ln_final_b: null,
  W_U,
  b_U,
};

/** z [B, P, H, DH] @ W_O -> attn_out [B, P, D] + b_O, computed plainly. */
function attnOutFromZ(z: Tensor, b_O: Tensor): Tensor {
  const out = new Float32Array(B * P * D);
  for (let bp = 0; bp < B * P; bp++)
    for (let m = 0; m < D; m++) {
      let s = b_O.data[m]!;
      for (let h = 0; h < H; h++) for (let k = 0; k < DH; k++) s += z.data[(bp * H + h) * DH + k]! * W_O.data[(h * DH + k) * D + m]!;
      out[bp * D + m] = s;
    }
  return { dims: [B, P, D], data: out };
}

/** The real LayerNorm scale of each vector: sqrt(var + eps), [B, P, 1]. */
function scaleOf(x: Tensor): Tensor {
  const out = new Float32Array(B * P);
  for (let v = 0; v < B * P; v++) {
    const row = x.data.subarray(v * D, v * D + D);
    const mean = row.reduce((a, b) => a + b, 0) / D;
    out[v] = Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / D + cfg.eps);
  }
  return { dims: [B, P, 1], data: out };
}

function buildCache(): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  const embed = fill([B, P, D], 1);
  const pos = fill([B, P, D], 2);
  m.set('hook_embed', embed);
  m.set('hook_pos_embed', pos);
  let resid = add(embed, pos);
  for (let l = 0; l < 2; l++) {
    m.set(`blocks.${l}.hook_resid_pre`, resid);
    m.set(`blocks.${l}.ln1.hook_scale`, scaleOf(resid));
    const z = fill([B, P, H, DH], 3 + l);
    m.set(`blocks.${l}.attn.hook_z`, z);
    m.set(`blocks.${l}.attn.hook_pattern`, fill([B, H, P, P], 5 + l));
    const attnOut = attnOutFromZ(z, weights.blocks[l]!.b_O);
    m.set(`blocks.${l}.hook_attn_out`, attnOut);
    resid = add(resid, attnOut);
    m.set(`blocks.${l}.hook_resid_mid`, resid);
    m.set(`blocks.${l}.ln2.hook_scale`, scaleOf(resid));
    const mlpOut = fill([B, P, D], 7 + l);
    m.set(`blocks.${l}.hook_mlp_out`, mlpOut);
    resid = add(resid, mlpOut);
    m.set(`blocks.${l}.hook_resid_post`, resid);
  }
  m.set('ln_final.hook_scale', scaleOf(resid));
  return m;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): void => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};

test('getActName resolves TransformerLens shorthand', () => {
  const cases: [Parameters<typeof getActName>, string][] = [
    [['pattern', 0], 'blocks.0.attn.hook_pattern'],
    [['attn', 3], 'blocks.3.attn.hook_pattern'],
    [['attn_scores', 1], 'blocks.1.attn.hook_attn_scores'],
    [['q', 2], 'blocks.2.attn.hook_q'],
    [['z', 0], 'blocks.0.attn.hook_z'],
    [['result', 5], 'blocks.5.attn.hook_result'],
    [['resid_pre', 1], 'blocks.1.hook_resid_pre'],
    [['resid_mid', 0], 'blocks.0.hook_resid_mid'],
    [['attn_out', 0], 'blocks.0.hook_attn_out'],
    [['mlp_out', 11], 'blocks.11.hook_mlp_out'],
    [['pre', 4], 'blocks.4.mlp.hook_pre'],
    [['post', 4], 'blocks.4.mlp.hook_post'],
    [['scale', 1, 'ln2'], 'blocks.1.ln2.hook_scale'],
    [['normalized', 0, 'ln1'], 'blocks.0.ln1.hook_normalized'],
    [['scale'], 'ln_final.hook_scale'],
    [['embed'], 'hook_embed'],
    [['pattern3'], 'blocks.3.attn.hook_pattern'],
    [['scale4ln1'], 'blocks.4.ln1.hook_scale'],
    [['blocks.0.hook_resid_post'], 'blocks.0.hook_resid_post'],
  ];
  for (const [args, want] of cases) assert.equal(getActName(...args), want, JSON.stringify(args));
});

test('get, act, names, and a clear error for what was not cached', () => {
  const m = buildCache();
  const c = new ActivationCache(m, cfg, weights);
  assert.equal(c.act('resid_mid', 1), m.get('blocks.1.hook_resid_mid'));
  assert.equal(c.act('scale'), m.get('ln_final.hook_scale'));
  assert.equal(c.act('scale', 0, 'ln2'), m.get('blocks.0.ln2.hook_scale'));
  assert.deepEqual(c.names(), [...m.keys()]);
  assert.throws(() => c.act('q', 0), /"blocks\.0\.attn\.hook_q" was not cached/);
});

test('accumulatedResid: TransformerLens labels, the cached streams, final stream = sum of the decomposition', () => {
  const m = buildCache();
  const c = new ActivationCache(m, cfg, weights);
  const all = c.accumulatedResid();
  assert.deepEqual(all.labels, ['0_pre', '1_pre', 'final_post']);
  assert.deepEqual(all.stack.dims, [3, B, P, D]);
  assert.deepEqual(all.stack.data.subarray(2 * B * P * D), m.get('blocks.1.hook_resid_post')!.data);
  assert.deepEqual(c.accumulatedResid(undefined, { incl_mid: true }).labels, ['0_pre', '0_mid', '1_pre', '1_mid', 'final_post']);
  assert.deepEqual(c.accumulatedResid(1, { incl_mid: true }).labels, ['0_pre', '0_mid', '1_pre']);
  assert.deepEqual(c.accumulatedResid(1, { mlp_input: true }).labels, ['0_pre', '1_pre', '1_mid']);

  const dec = c.decomposeResid();
  assert.deepEqual(dec.labels, ['embed', 'pos_embed', '0_attn_out', '0_mlp_out', '1_attn_out', '1_mlp_out']);
  const n = B * P * D;
  const sum = new Float32Array(n);
  for (let k = 0; k < dec.labels.length; k++) for (let i = 0; i < n; i++) sum[i] += dec.stack.data[k * n + i]!;
  close(sum, m.get('blocks.1.hook_resid_post')!.data);
  assert.deepEqual(c.decomposeResid(1, { mode: 'attn' }).labels, ['embed', 'pos_embed', '0_attn_out']);
  assert.deepEqual(c.decomposeResid(2, { mode: 'mlp', incl_embeds: false }).labels, ['0_mlp_out', '1_mlp_out']);
  assert.deepEqual(c.decomposeResid(1, { mlp_input: true }).labels, ['embed', 'pos_embed', '0_attn_out', '0_mlp_out', '1_attn_out']);
});

test('pos_slice: a number drops the pos axis, a range keeps it', () => {
  const m = buildCache();
  const c = new ActivationCache(m, cfg, weights);
  const last = c.accumulatedResid(undefined, { pos_slice: -1 }).stack;
  assert.deepEqual(last.dims, [3, B, D]);
  // component 0 (resid_pre 0), batch 1, last position
  const src = m.get('blocks.0.hook_resid_pre')!.data;
  assert.deepEqual(last.data.subarray(D, 2 * D), src.subarray((1 * P + 2) * D, (1 * P + 3) * D));
  assert.deepEqual(c.decomposeResid(undefined, { pos_slice: [1] }).stack.dims, [6, B, 2, D]);
  assert.deepEqual(c.decomposeResid(undefined, { pos_slice: { indices: [0, 2] } }).stack.dims, [6, B, 2, D]);
  assert.throws(() => c.decomposeResid(undefined, { pos_slice: 3 }), /position 3 is outside 0\.\.2/);
});

test('applyLnToStack centres then divides by the cached scale (hand-computed)', () => {
  const m = buildCache();
  // One vector [1, 2, 3, 6] at every position, with scale 2 cached in ln_final.
  m.set('ln_final.hook_scale', { dims: [B, P, 1], data: new Float32Array(B * P).fill(2) });
  const c = new ActivationCache(m, cfg, weights);
  const stack: Tensor = { dims: [1, B, P, D], data: new Float32Array(B * P * D).map((_, i) => [1, 2, 3, 6][i % 4]!) };
  const out = c.applyLnToStack(stack);
  assert.deepEqual([...out.data.subarray(0, 4)], [-1, -0.5, 0, 1.5]); // mean 3, centred [-2,-1,0,3], / 2
  // layer 1 uses blocks.1.ln1.hook_scale, mlp input uses ln2.
  const s1 = m.get('blocks.1.ln1.hook_scale')!.data[0]!;
  close(c.applyLnToStack(stack, 1).data.subarray(0, 4), [-2 / s1, -1 / s1, 0, 3 / s1]);
  const s2 = m.get('blocks.1.ln2.hook_scale')!.data[5]!;
  close(c.applyLnToStack(stack, 1, undefined, true).data.subarray(5 * 4, 6 * 4), [-2 / s2, -1 / s2, 0, 3 / s2]);
  // With the real scale, the LN'd accumulated final stream has unit variance per vector.
  const ln = new ActivationCache(buildCache(), cfg, weights).accumulatedResid(undefined, { apply_ln: true, pos_slice: -1 }).stack;
  const fin = ln.data.subarray(2 * B * D, 2 * B * D + D);
  close([fin.reduce((a, x) => a + x * x, 0) / D], [1], 1e-4);
});

test('stackHeadResults from hook_z and W_O: labels, a hand-computed entry, heads + b_O = attn_out', () => {
  const m = buildCache();
  const c = new ActivationCache(m, cfg, weights);
  const { stack, labels } = c.stackHeadResults();
  assert.deepEqual(labels, ['L0H0', 'L0H1', 'L1H0', 'L1H1']);
  assert.deepEqual(stack.dims, [4, B, P, D]);
  // Head 1 of layer 0 at batch 0, pos 0: z = z[0,0,1,:]; W_O[1] rows [0,0,2,0] and [1,1,1,1].
  const z = m.get('blocks.0.attn.hook_z')!.data;
  const z0 = z[2]!;
  const z1 = z[3]!;
  const n = B * P * D;
  assert.deepEqual([...stack.data.subarray(n, n + 4)], [z1, z1, 2 * z0 + z1, z1]);
  for (let l = 0; l < 2; l++) {
    const attnOut = m.get(`blocks.${l}.hook_attn_out`)!.data;
    const b_O = weights.blocks[l]!.b_O.data;
    const sum = new Float32Array(n);
    for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) sum[i] += stack.data[(l * H + h) * n + i]!;
    close(
      sum.map((x, i) => x + b_O[i % D]!),
      attnOut,
    );
  }
  const withRem = c.stackHeadResults(1, { incl_remainder: true, pos_slice: 0 });
  assert.deepEqual(withRem.labels, ['L0H0', 'L0H1', 'remainder']);
  assert.deepEqual(withRem.stack.dims, [3, B, D]);
  // A cached hook_result is used as is.
  const given = fill([B, P, H, D], 11);
  m.set('blocks.0.attn.hook_result', given);
  const fromCache = new ActivationCache(m, cfg, weights).stackHeadResults(1);
  assert.deepEqual([...fromCache.stack.data.subarray(0, D)], [...given.data.subarray(0, D)]);
  assert.throws(() => new ActivationCache(buildCache(), cfg).stackHeadResults(), /needs the model's weights/);
});

test('logitAttrs: components add up to the logit (minus b_U); incorrect tokens give the difference', () => {
  const m = buildCache();
  const c = new ActivationCache(m, cfg, weights);
  const dec = c.decomposeResid(undefined, { pos_slice: -1 }); // [6, B, D]
  const tokens = [2, 0]; // one per batch element
  const attrs = c.logitAttrs(dec.stack, tokens, undefined, -1);
  assert.deepEqual(attrs.dims, [6, B]);
  const resid = m.get('blocks.1.hook_resid_post')!.data;
  const scale = m.get('ln_final.hook_scale')!.data;
  for (let b = 0; b < B; b++) {
    const v = b * P + (P - 1);
    const x = resid.subarray(v * D, v * D + D);
    const mean = x.reduce((a, y) => a + y, 0) / D;
    let logit = 0; // logits - b_U for LNPre: ((x - mean) / scale) @ W_U[:, tok]
    for (let d = 0; d < D; d++) logit += ((x[d]! - mean) / scale[v]!) * W_U.data[d * 3 + tokens[b]!]!;
    let total = 0;
    for (let k = 0; k < 6; k++) total += attrs.data[k * B + b]!;
    close([total], [logit], 1e-4);
  }
  // Hand-computed: one component [1, 2, 3, 6] with scale 2 -> [-1, -0.5, 0, 1.5]; W_U[:, 2] = [0, 0, 1, -1].
  const m2 = buildCache();
  m2.set('ln_final.hook_scale', { dims: [B, P, 1], data: new Float32Array(B * P).fill(2) });
  const c2 = new ActivationCache(m2, cfg, weights);
  const one: Tensor = { dims: [1, B, P, D], data: new Float32Array(B * P * D).map((_, i) => [1, 2, 3, 6][i % 4]!) };
  assert.equal(c2.logitAttrs(one, 2).data[0], -1.5);
  // tok 2 minus tok 0 (W_U[:, 0] = [1, 0, 0, 1]): -1.5 - (-1 + 1.5) = -2
  assert.equal(c2.logitAttrs(one, 2, 0).data[0], -2);
  assert.throws(() => c2.logitAttrs(one, 7), /id 7, outside 0\.\.2/);
  assert.throws(() => c2.logitAttrs(one, [1, 2, 0, 1]), /do not match/);
});

test('toSafetensorsTensors exports every activation under its TransformerLens name', async () => {
  const m = buildCache();
  const c = new ActivationCache(m, cfg, weights);
  const dir = await mkdtemp(join(tmpdir(), 'ml-cache-'));
  try {
    const p = join(dir, 'cache.safetensors');
    await writeSafetensors(p, c.toSafetensorsTensors(), { model: 'hand' });
    const f = await readSafetensors(p);
    assert.deepEqual(new Set(f.names()), new Set(m.keys()));
    const t = await f.getTensor('blocks.1.attn.hook_pattern');
    assert.deepEqual(t.dims, [B, H, P, P]);
    assert.deepEqual(t.data, m.get('blocks.1.attn.hook_pattern')!.data);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
