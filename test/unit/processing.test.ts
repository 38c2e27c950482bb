// Weight processing invariants, checked with a small float64 GPT-2 forward written here
// (independent of the engine's graph): folding and centring change the weights but not what
// the model computes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { maxAbsDiff } from '../support/compare';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { loadCheckpoint } from '../../src/engine/checkpoint/load';
import { processWeights } from '../../src/engine/processing';
import {
  DEFAULT_PROCESSING,
  NO_PROCESSING,
  type GPT2Weights,
  type HookedGPT2Config,
  type ProcessingOptions,
  type Tensor,
} from '../../src/engine/types';

// Float64 forward of one sequence, TransformerLens's math (LN, or LNPre when weights are null).
interface Forward {
  logits: Float64Array[]; // [pos][d_vocab]
  attnOut: Float64Array[][]; // [layer][pos][d_model]
}

function layerNorm(x: Float64Array, w: Tensor | null, b: Tensor | null, eps: number): Float64Array {
  const n = x.length;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  const scale = Math.sqrt(variance / n + eps);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = ((x[i]! - mean) / scale) * (w ? w.data[i]! : 1) + (b ? b.data[i]! : 0);
  return out;
}

/** x [d_in] @ W[offset .. ] viewed as [d_in, d_out] + bias[bOffset ..]. */
function matvec(x: Float64Array, W: Float32Array, offset: number, d_out: number, bias: Float32Array, bOffset: number): Float64Array {
  const out = new Float64Array(d_out);
  for (let j = 0; j < d_out; j++) out[j] = bias[bOffset + j]!;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    const row = offset + i * d_out;
    for (let j = 0; j < d_out; j++) out[j] += xi * W[row + j]!;
  }
  return out;
}

const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

function forward(cfg: HookedGPT2Config, w: GPT2Weights, tokens: number[]): Forward {
  const { d_model: d, n_heads: H, d_head: dh, d_mlp, d_vocab, eps } = cfg;
  const P = tokens.length;
  const resid = tokens.map((t, p) => {
    const r = new Float64Array(d);
    for (let m = 0; m < d; m++) r[m] = w.W_E.data[t * d + m]! + w.W_pos.data[p * d + m]!;
    return r;
  });
  const attnOut: Float64Array[][] = [];
  for (const b of w.blocks) {
    const x = resid.map((r) => layerNorm(r, b.ln1_w, b.ln1_b, eps));
    const proj = (W: Tensor, bias: Tensor) =>
      x.map((xp) => Array.from({ length: H }, (_, h) => matvec(xp, W.data, h * d * dh, dh, bias.data, h * dh)));
    const q = proj(b.W_Q, b.b_Q);
    const k = proj(b.W_K, b.b_K);
    const v = proj(b.W_V, b.b_V);
    const out: Float64Array[] = [];
    for (let i = 0; i < P; i++) {
      const o = Float64Array.from(b.b_O.data);
      for (let h = 0; h < H; h++) {
        const s = Array.from({ length: i + 1 }, (_, j) => q[i]![h]!.reduce((a, qv, c) => a + qv * k[j]![h]![c]!, 0) / Math.sqrt(dh));
        const mx = Math.max(...s);
        const e = s.map((z) => Math.exp(z - mx));
        const tot = e.reduce((a, z) => a + z, 0);
        const z = new Float64Array(dh);
        for (let j = 0; j <= i; j++) for (let c = 0; c < dh; c++) z[c] += (e[j]! / tot) * v[j]![h]![c]!;
        for (let c = 0; c < dh; c++) for (let m = 0; m < d; m++) o[m] += z[c]! * b.W_O.data[(h * dh + c) * d + m]!;
      }
      out.push(o);
    }
    attnOut.push(out);
    for (let p = 0; p < P; p++) for (let m = 0; m < d; m++) resid[p]![m] += out[p]![m]!;
    for (let p = 0; p < P; p++) {
      const x2 = layerNorm(resid[p]!, b.ln2_w, b.ln2_b, eps);
      const post = matvec(x2, b.W_in.data, 0, d_mlp, b.b_in.data, 0).map(gelu);
      const mlp = matvec(post, b.W_out.data, 0, d, b.b_out.data, 0);
      for (let m = 0; m < d; m++) resid[p]![m] += mlp[m]!;
    }
  }
  const logits = resid.map((r) => matvec(layerNorm(r, w.ln_final_w, w.ln_final_b, eps), w.W_U.data, 0, d_vocab, w.b_U.data, 0));
  return { logits, attnOut };
}

function logSoftmax(x: Float64Array): Float64Array {
  let mx = -Infinity;
  for (const v of x) mx = Math.max(mx, v);
  let s = 0;
  for (const v of x) s += Math.exp(v - mx);
  const lse = mx + Math.log(s);
  return x.map((v) => v - lse);
}

function only(key: keyof ProcessingOptions): ProcessingOptions {
  return { ...NO_PROCESSING, [key]: true };
}

const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625]; // "<|endoftext|>The quick brown fox jumps over"
let dir = '';
let cfg: HookedGPT2Config;
let raw: GPT2Weights;
let rawFwd: Forward;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ml-proc-'));
  await generateTinyGpt2(dir, { seed: 3 });
  ({ cfg, weights: raw } = await loadCheckpoint(dir));
  rawFwd = forward(cfg, raw, TOKENS);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the tiny model is not degenerate: logits spread, softmax neither flat nor one-hot', () => {
  const lp = logSoftmax(rawFwd.logits[6]!);
  const top = Math.exp(Math.max(...lp));
  assert.ok(top > 1e-3 && top < 0.9, `top probability ${top}`);
});

test('fold_ln: LNPre with folded weights gives the same logits as LN with raw weights', () => {
  const { cfg: c, weights: w } = processWeights(cfg, raw, only('fold_ln'));
  assert.equal(c.normalization_type, 'LNPre');
  assert.equal(cfg.normalization_type, 'LN', 'input cfg untouched');
  assert.equal(w.blocks[0]!.ln1_w, null);
  assert.equal(w.ln_final_b, null);
  const f = forward(c, w, TOKENS);
  for (let p = 0; p < TOKENS.length; p++) {
    assert.ok(maxAbsDiff(f.logits[p]!, rawFwd.logits[p]!) < 1e-4, `pos ${p}: ${maxAbsDiff(f.logits[p]!, rawFwd.logits[p]!)}`);
  }
  // Reading weights are centred over d_model.
  for (const t of [w.blocks[1]!.W_K, w.blocks[0]!.W_in, w.W_U]) {
    const [outer, dm, inner] = t.dims.length === 3 ? t.dims : [1, t.dims[0]!, t.dims[1]!];
    for (const [o, i] of [
      [0, 0],
      [outer! - 1, inner! - 1],
    ]) {
      let s = 0;
      for (let m = 0; m < dm!; m++) s += t.data[(o! * dm! + m) * inner! + i!]!;
      assert.ok(Math.abs(s / dm!) < 1e-6, `column mean ${s / dm!}`);
    }
  }
  // Folding is a real change: b_Q picked up ln1.b @ W_Q.
  assert.ok(maxAbsDiff(w.blocks[0]!.b_Q.data, raw.blocks[0]!.b_Q.data) > 1e-3);
  // Asking again on folded weights is a no-op for LayerNorm.
  const again = processWeights(c, w, only('fold_ln'));
  assert.equal(again.weights.blocks[0]!.W_Q.data, w.blocks[0]!.W_Q.data);
});

test('center_writing_weights: written vectors have zero mean and logits are unchanged', () => {
  const { cfg: c, weights: w } = processWeights(cfg, raw, only('center_writing_weights'));
  assert.equal(c.normalization_type, 'LN');
  const rowMeansZero = (t: Tensor) => {
    const n = t.dims[t.dims.length - 1]!;
    for (let r = 0; r < t.data.length; r += n * 97) {
      let s = 0;
      for (let i = 0; i < n; i++) s += t.data[r + i]!;
      assert.ok(Math.abs(s / n) < 1e-6);
    }
  };
  for (const t of [w.W_E, w.W_pos, w.blocks[0]!.W_O, w.blocks[1]!.b_O, w.blocks[1]!.W_out, w.blocks[0]!.b_out]) rowMeansZero(t);
  const f = forward(c, w, TOKENS);
  for (let p = 0; p < TOKENS.length; p++) assert.ok(maxAbsDiff(f.logits[p]!, rawFwd.logits[p]!) < 1e-4);
  assert.ok(maxAbsDiff(w.W_E.data.subarray(0, 1000), raw.W_E.data.subarray(0, 1000)) > 1e-3, 'W_E really changed');
});

test('center_unembed: logits move, log-softmax does not', () => {
  const { weights: w } = processWeights(cfg, raw, only('center_unembed'));
  const f = forward(cfg, w, TOKENS);
  const p = 4;
  assert.ok(maxAbsDiff(f.logits[p]!, rawFwd.logits[p]!) > 1e-3, 'logits shifted');
  assert.ok(maxAbsDiff(logSoftmax(f.logits[p]!), logSoftmax(rawFwd.logits[p]!)) < 1e-4);
  let s = 0;
  for (let v = 0; v < cfg.d_vocab; v++) s += w.W_U.data[v]!; // row m = 0
  assert.ok(Math.abs(s / cfg.d_vocab) < 1e-6);
  assert.equal(w.W_E, raw.W_E, 'other weights untouched (shared)');
});

test('fold_value_biases: b_V becomes zero and attn_out is unchanged', () => {
  const { weights: w } = processWeights(cfg, raw, only('fold_value_biases'));
  assert.ok(w.blocks.every((b) => b.b_V.data.every((x) => x === 0)));
  assert.ok(
    raw.blocks[0]!.b_V.data.some((x) => x !== 0),
    'input b_V untouched',
  );
  const f = forward(cfg, w, TOKENS);
  for (let l = 0; l < cfg.n_layers; l++) {
    for (let p = 0; p < TOKENS.length; p++) assert.ok(maxAbsDiff(f.attnOut[l]![p]!, rawFwd.attnOut[l]![p]!) < 1e-5);
  }
});

test('all switches (from_pretrained defaults) keep log-probs; the input weights are never mutated', () => {
  const snapshot = [raw.W_E, raw.W_pos, raw.W_U, raw.b_U, raw.ln_final_w!, ...raw.blocks.flatMap((b) => Object.values(b) as Tensor[])].map(
    (t) => [t, Float32Array.from(t.data)] as const,
  );
  const { cfg: c, weights: w } = processWeights(cfg, raw, DEFAULT_PROCESSING);
  const f = forward(c, w, TOKENS);
  for (let p = 0; p < TOKENS.length; p++) {
    assert.ok(maxAbsDiff(logSoftmax(f.logits[p]!), logSoftmax(rawFwd.logits[p]!)) < 1e-4);
  }
  for (const [t, copy] of snapshot) assert.deepEqual(t.data, copy);
  // No processing returns equal weights.
  const none = processWeights(cfg, raw, NO_PROCESSING);
  assert.equal(none.weights.blocks[1]!.W_V, raw.blocks[1]!.W_V);
  assert.equal(none.cfg.normalization_type, 'LN');
});

test('in place (what fromPretrained does with the arrays it read) gives the very floats of the copying mode, in the input arrays', async () => {
  for (const opts of [
    DEFAULT_PROCESSING,
    only('fold_ln'),
    only('center_writing_weights'),
    only('center_unembed'),
    only('fold_value_biases'),
  ]) {
    const copied = processWeights(cfg, raw, opts).weights;
    const own = (await loadCheckpoint(dir)).weights; // arrays of this test's own, overwritten below
    const inPlace = processWeights(cfg, own, opts, { inPlace: true }).weights;
    const pairs = (w: GPT2Weights): [string, Tensor | null][] => [
      ['W_E', w.W_E],
      ['W_pos', w.W_pos],
      ['W_U', w.W_U],
      ['b_U', w.b_U],
      ...w.blocks.flatMap((b, l) => Object.entries(b).map(([k, t]) => [`blocks.${l}.${k}`, t as Tensor | null] as [string, Tensor | null])),
    ];
    const want = new Map(pairs(copied));
    for (const [name, t] of pairs(inPlace)) {
      const c = want.get(name);
      if (t === null || c === null || c === undefined) {
        assert.equal(t, c ?? null, name);
        continue;
      }
      assert.deepEqual(t.dims, c.dims, name);
      assert.ok(
        t.data.every((v, i) => Object.is(v, c.data[i])),
        `${name} differs from the copying mode`,
      );
    }
    // The big matrices were changed where they lay: no second copy.
    if (opts.fold_ln) assert.equal(inPlace.blocks[0]!.W_Q.data, own.blocks[0]!.W_Q.data);
    if (opts.center_writing_weights) assert.equal(inPlace.W_E.data, own.W_E.data);
  }
});
