// Parity of the GPT-2 engine with an independent float64 reference (test/reference/), hook by
// hook, in TransformerLens's processed and unprocessed modes, under both TransformerLens 3.x's
// hook meanings (the default) and 2.x's (docs/HOOKS.md).
//
// Metric (test/reference/compare.ts): for each hook, relErr = max|engine - ref| / max(max|ref|, 1e-30)
// over the tensor; causally masked attention scores must be exactly -inf in both. Tolerance 1e-5.
//
// The first suite checks the reference itself on a random F32 checkpoint it writes on its own,
// so a wrong oracle cannot pass silently. A reference written from our own reading is not
// independent of that reading, so a hand-sized case with numbers worked out on paper pins the
// one hook whose placement changed between releases (LayerNorm's hook_normalized), in the
// reference and in the engine alike.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2, type TinyGpt2Options } from '../../src/engine/tinyGpt2';
import { processWeights } from '../../src/engine/processing';
import {
  DEFAULT_PROCESSING,
  NO_PROCESSING,
  TL_VERSIONS,
  type GPT2Weights,
  type HookedGPT2Config,
  type Tensor,
  type TransformerLensVersion,
} from '../../src/engine/types';
import { relErr, worst, type HookError } from '../support/compare';
import { DEFAULT_FLAGS, geluNew, logSoftmax, referenceRun, type RefFlags, type RefRun } from '../reference/gpt2Float64';
import type { RefWeights, T64 } from '../reference/gpt2Weights64';
import { loadReferenceModel, processReferenceWeights, type RefModel } from '../reference/gpt2Weights64';
import { hfLogits64 } from '../reference/hfLogits64';
import { writeRandomGpt2 } from '../reference/randomCheckpoint';
import { bfloat16ToNumber, halfToNumber, readSafetensorsRaw } from '../reference/safetensorsRaw';

const ALL_FLAGS = { use_attn_result: true, use_split_qkv_input: true, use_attn_in: true, use_hook_mlp_in: true };

/** Names of the residual-stream hooks, which processing should only centre. */
function residNames(nLayers: number): string[] {
  const names: string[] = [];
  for (let l = 0; l < nLayers; l++) names.push(`blocks.${l}.hook_resid_pre`, `blocks.${l}.hook_resid_mid`, `blocks.${l}.hook_resid_post`);
  return names;
}

/** x with its mean over the last axis (length len) removed. */
function centred(x: ArrayLike<number>, len: number): Float64Array {
  const out = Float64Array.from(x);
  for (let o = 0; o < out.length; o += len) {
    let s = 0;
    for (let k = 0; k < len; k++) s += out[o + k];
    for (let k = 0; k < len; k++) out[o + k] -= s / len;
  }
  return out;
}

describe('float64 reference: self-checks', () => {
  let dir: string;
  let model: RefModel;
  const tokens = [0, 5, 17, 3, 3, 42, 11, 29, 8, 1, 63, 50];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'modellens-ref-'));
    writeRandomGpt2(dir, {
      n_layer: 2,
      n_embd: 16,
      n_head: 4,
      vocab_size: 64,
      n_positions: 32,
      seed: 7,
      prefix: true,
      separateLmHead: false,
    });
    model = loadReferenceModel(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('decodes f16 and bf16 bit patterns exactly', () => {
    assert.equal(halfToNumber(0x3c00), 1);
    assert.equal(halfToNumber(0xc000), -2);
    assert.equal(halfToNumber(0x7bff), 65504);
    assert.equal(halfToNumber(0x0001), 2 ** -24);
    assert.equal(halfToNumber(0x3555), 0.333251953125);
    assert.equal(halfToNumber(0xfc00), -Infinity);
    assert.equal(bfloat16ToNumber(0x3f80), 1);
    assert.equal(bfloat16ToNumber(0x4049), 3.140625);
    assert.equal(bfloat16ToNumber(0xc2f7), -123.5);
  });

  it('gelu_new matches its closed form at known points', () => {
    assert.equal(geluNew(0), 0);
    assert.ok(Math.abs(geluNew(1) - 0.8411919906082768) < 1e-15);
    assert.ok(Math.abs(geluNew(-1) - -0.15880800939172324) < 1e-15);
  });

  it('reads back what it wrote (F32 round trip, prefix detection)', () => {
    const raw = readSafetensorsRaw(join(dir, 'model.safetensors'));
    assert.ok(raw.has('transformer.wte.weight'));
    assert.deepEqual(raw.get('transformer.h.0.attn.c_attn.weight')?.shape, [16, 48]);
    assert.equal(model.cfg.d_head, 4);
    assert.equal(model.cfg.d_mlp, 64);
  });

  it('unprocessed logits equal a Hugging Face-layout forward pass (1e-12)', () => {
    const ref = referenceRun(model.cfg, model.weights, tokens);
    const hf = hfLogits64(readSafetensorsRaw(join(dir, 'model.safetensors')), model.cfg, tokens);
    const err = relErr(ref.logits.data, hf);
    assert.ok(err < 1e-12, `relErr ${err}`);
  });

  it('untied lm_head and unprefixed keys are read as such', () => {
    const d2 = mkdtempSync(join(tmpdir(), 'modellens-ref-'));
    try {
      writeRandomGpt2(d2, {
        n_layer: 1,
        n_embd: 8,
        n_head: 2,
        vocab_size: 40,
        n_positions: 16,
        seed: 3,
        prefix: false,
        separateLmHead: true,
      });
      const m = loadReferenceModel(d2);
      const raw = readSafetensorsRaw(join(d2, 'model.safetensors'));
      const t = [1, 2, 3, 39, 0];
      const err = relErr(referenceRun(m.cfg, m.weights, t).logits.data, hfLogits64(raw, m.cfg, t));
      assert.ok(err < 1e-12, `relErr ${err}`);
      // W_U really is lm_head^T here, not wte^T
      assert.equal(m.cfg.tie_word_embeddings, false);
      const wteT = new Float64Array(8 * 40);
      for (let v = 0; v < 40; v++) for (let d = 0; d < 8; d++) wteT[d * 40 + v] = raw.get('wte.weight')!.data[v * 8 + d];
      assert.ok(relErr(m.weights.W_U.data, wteT) > 0.1);
    } finally {
      rmSync(d2, { recursive: true, force: true });
    }
  });

  describe('processing', () => {
    let raw: RefRun;
    let processed: RefRun;
    before(() => {
      raw = referenceRun(model.cfg, model.weights, tokens);
      processed = referenceRun(model.cfg, processReferenceWeights(model.weights, model.cfg, DEFAULT_PROCESSING), tokens);
    });

    it('processed and unprocessed log-softmax agree (1e-12)', () => {
      const V = model.cfg.d_vocab;
      const err = relErr(logSoftmax(processed.logits.data, V), logSoftmax(raw.logits.data, V));
      assert.ok(err < 1e-12, `relErr ${err}`);
      // and the processed logits really differ (center_unembed moved them)
      assert.ok(relErr(processed.logits.data, raw.logits.data) > 1e-3);
    });

    it('each processing switch alone keeps log-softmax', () => {
      const V = model.cfg.d_vocab;
      for (const key of Object.keys(DEFAULT_PROCESSING) as (keyof typeof DEFAULT_PROCESSING)[]) {
        const w = processReferenceWeights(model.weights, model.cfg, { ...NO_PROCESSING, [key]: true });
        const err = relErr(logSoftmax(referenceRun(model.cfg, w, tokens).logits.data, V), logSoftmax(raw.logits.data, V));
        assert.ok(err < 1e-12, `${key}: relErr ${err}`);
      }
    });

    it('processed residual streams are the unprocessed ones centred over d_model', () => {
      const errors: HookError[] = residNames(model.cfg.n_layers).map((name) => ({
        name,
        err: relErr(processed.cache.get(name)!.data, centred(raw.cache.get(name)!.data, model.cfg.d_model)),
      }));
      const w = worst(errors);
      assert.ok(w.err < 1e-12, `${w.name}: relErr ${w.err}`);
      // not trivially: the raw stream has a mean to remove
      const r = raw.cache.get('blocks.1.hook_resid_pre')!.data;
      assert.ok(relErr(centred(r, model.cfg.d_model), r) > 1e-3);
    });

    it('attention, q/k and scale hooks are unchanged by processing', () => {
      const names = [...raw.cache.keys()].filter((n) => /hook_(pattern|attn_scores|q|k|scale)$/.test(n));
      assert.ok(names.length >= 5 * model.cfg.n_layers);
      const w = worst(names.map((name) => ({ name, err: relErr(processed.cache.get(name)!.data, raw.cache.get(name)!.data) })));
      assert.ok(w.err < 1e-12, `${w.name}: relErr ${w.err}`);
    });
  });

  it('patterns are causal, rows sum to 1, masked scores are -inf', () => {
    const run = referenceRun(model.cfg, model.weights, tokens);
    const P = tokens.length;
    for (let l = 0; l < model.cfg.n_layers; l++) {
      const pat = run.cache.get(`blocks.${l}.attn.hook_pattern`)!;
      const sc = run.cache.get(`blocks.${l}.attn.hook_attn_scores`)!;
      assert.deepEqual(pat.dims, [1, model.cfg.n_heads, P, P]);
      for (let r = 0; r < model.cfg.n_heads * P; r++) {
        const q = r % P;
        let sum = 0;
        for (let k = 0; k < P; k++) {
          const v = pat.data[r * P + k];
          sum += v;
          if (k > q) {
            assert.equal(v, 0);
            assert.equal(sc.data[r * P + k], -Infinity);
          } else assert.ok(Number.isFinite(sc.data[r * P + k]));
        }
        assert.ok(Math.abs(sum - 1) < 1e-12);
      }
    }
  });

  it('flag-gated hooks are consistent with the default path', () => {
    const base = referenceRun(model.cfg, model.weights, tokens);
    const all = referenceRun(model.cfg, model.weights, tokens, ALL_FLAGS);
    assert.ok(relErr(all.logits.data, base.logits.data) < 1e-14);
    const { n_heads, d_model } = model.cfg;
    const P = tokens.length;
    for (let l = 0; l < model.cfg.n_layers; l++) {
      // sum over heads of hook_result, plus b_O, is hook_attn_out
      const res = all.cache.get(`blocks.${l}.attn.hook_result`)!;
      assert.deepEqual(res.dims, [1, P, n_heads, d_model]);
      const out = new Float64Array(P * d_model);
      for (let p = 0; p < P; p++)
        for (let m = 0; m < d_model; m++) {
          let s = model.weights.blocks[l].b_O.data[m];
          for (let i = 0; i < n_heads; i++) s += res.data[(p * n_heads + i) * d_model + m];
          out[p * d_model + m] = s;
        }
      assert.ok(relErr(out, base.cache.get(`blocks.${l}.hook_attn_out`)!.data) < 1e-13);
      // the input hooks repeat resid_pre over heads; mlp_in is resid_mid
      const pre = base.cache.get(`blocks.${l}.hook_resid_pre`)!.data;
      for (const n of ['hook_attn_in', 'hook_q_input', 'hook_k_input', 'hook_v_input']) {
        const t = all.cache.get(`blocks.${l}.${n}`)!;
        assert.deepEqual(t.dims, [1, P, n_heads, d_model]);
        for (let p = 0; p < P; p++)
          for (let i = 0; i < n_heads; i++)
            for (let m = 0; m < d_model; m++) assert.equal(t.data[(p * n_heads + i) * d_model + m], pre[p * d_model + m]);
      }
      assert.deepEqual(all.cache.get(`blocks.${l}.hook_mlp_in`)!.data, base.cache.get(`blocks.${l}.hook_resid_mid`)!.data);
      // with a head axis on its input, ln1's hooks carry it too, as in TransformerLens
      assert.deepEqual(all.cache.get(`blocks.${l}.ln1.hook_scale`)!.dims, [1, P, n_heads, 1]);
      assert.deepEqual(base.cache.get(`blocks.${l}.ln1.hook_scale`)!.dims, [1, P, 1]);
    }
    for (const n of base.cache.keys()) assert.ok(all.cache.has(n), n);
    assert.equal(all.cache.size - base.cache.size, 6 * model.cfg.n_layers);
    assert.ok(![...base.cache.keys()].some((n) => /hook_(result|attn_in|q_input|k_input|v_input|mlp_in)$/.test(n)));
  });

  it('fires 17 hooks per layer plus six outside the blocks (3.x), four under 2.x', () => {
    const run = referenceRun(model.cfg, model.weights, tokens, DEFAULT_FLAGS);
    assert.equal(run.cache.size, 6 + 17 * model.cfg.n_layers);
    const old = referenceRun(model.cfg, model.weights, tokens, DEFAULT_FLAGS, '2.x');
    assert.equal(old.cache.size, 4 + 17 * model.cfg.n_layers);
    assert.deepEqual(
      [...run.cache.keys()].filter((n) => !old.cache.has(n)),
      ['unembed.hook_in', 'unembed.hook_out'],
    );
  });

  it("3.x: unembed.hook_in is ln_final's output, hook_out the logits; hook_normalized is before w, b", () => {
    const run = referenceRun(model.cfg, model.weights, tokens);
    const old = referenceRun(model.cfg, model.weights, tokens, DEFAULT_FLAGS, '2.x');
    assert.deepEqual(run.cache.get('unembed.hook_out')!.data, run.logits.data);
    // 2.x's hook_normalized included w and b, so it is exactly what 3.x's unembed reads
    assert.deepEqual(run.cache.get('unembed.hook_in')!.data, old.cache.get('ln_final.hook_normalized')!.data);
    const n3 = run.cache.get('blocks.0.ln1.hook_normalized')!.data;
    assert.ok(relErr(n3, old.cache.get('blocks.0.ln1.hook_normalized')!.data) > 1e-2);
    // (x - mean) / scale has mean 0 and mean square 1 - eps/scale² per row
    const D = model.cfg.d_model;
    for (let o = 0; o < n3.length; o += D) {
      let m = 0;
      for (let k = 0; k < D; k++) m += n3[o + k]!;
      assert.ok(Math.abs(m / D) < 1e-12);
    }
    // and every other hook is the same under both
    for (const [name, t] of old.cache) if (!name.endsWith('hook_normalized')) assert.deepEqual(run.cache.get(name)!.data, t.data, name);
  });
});

// ---------------------------------------------------------------------------------------------
// LayerNorm's hook_normalized, by hand. A model with no blocks (n_layers 0), d_model 4, one
// position: ln_final sees x = W_E[0] + W_pos[0] = [1, 2, 3, 6] (W_pos and W_E's other rows are zero).
//   mean 3, x - mean = [-2, -1, 0, 3], mean square (4 + 1 + 0 + 9) / 4 = 3.5
//   eps = 0.5, so scale = sqrt(3.5 + 0.5) = 2                                   → hook_scale [2]
//   n = (x - mean) / scale = [-1, -0.5, 0, 1.5]
//   w = [2, 1, -1, 0.5], b = [0.5, 0, 1, -1]: n * w + b = [-1.5, -0.5, 1, -0.25]
// TransformerLens 3.x (layer_norm.py:56-57@v3.5.1): hook_normalized = n = [-1, -0.5, 0, 1.5]
// TransformerLens 2.x (layer_norm.py:55-56@v2.9.1): hook_normalized = n * w + b = [-1.5, -0.5, 1, -0.25]
// With fold_ln (LayerNormPre, both releases): hook_normalized = n, and w, b live in W_U.
// W_U is the identity and b_U zero, so the logits are n * w + b in every case; under 3.x
// unembed.hook_in is n * w + b and unembed.hook_out the logits. Every number here is exact in float32.

const HAND = {
  x: [1, 2, 3, 6],
  scale: 2,
  n: [-1, -0.5, 0, 1.5],
  affine: [-1.5, -0.5, 1, -0.25],
};

function handModel(): { cfg: HookedGPT2Config; weights: GPT2Weights } {
  const D = 4;
  const f = (dims: number[], v: number[]): Tensor => ({ dims, data: Float32Array.from(v) });
  const cfg: HookedGPT2Config = {
    model_name: 'hand-sized',
    n_layers: 0,
    d_model: D,
    n_heads: 1,
    d_head: D,
    d_mlp: D,
    d_vocab: D,
    d_vocab_out: D,
    n_ctx: 2,
    eps: 0.5,
    act_fn: 'gelu_new',
    normalization_type: 'LN',
    use_attn_result: false,
    use_split_qkv_input: false,
    use_attn_in: false,
    use_hook_mlp_in: false,
  };
  const identity = Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0));
  const weights: GPT2Weights = {
    W_E: f([D, D], [...HAND.x, ...new Array<number>(3 * D).fill(0)]),
    W_pos: f([2, D], new Array<number>(2 * D).fill(0)),
    blocks: [],
    ln_final_w: f([D], [2, 1, -1, 0.5]),
    ln_final_b: f([D], [0.5, 0, 1, -1]),
    W_U: f([D, D], identity),
    b_U: f([D], [0, 0, 0, 0]),
  };
  return { cfg, weights };
}

/** The same model for the float64 reference. */
function handReference(): RefWeights {
  const { weights: w } = handModel();
  const t = (x: Tensor): T64 => ({ dims: x.dims, data: Float64Array.from(x.data) });
  return {
    W_E: t(w.W_E),
    W_pos: t(w.W_pos),
    blocks: [],
    ln_final_w: t(w.ln_final_w!),
    ln_final_b: t(w.ln_final_b!),
    W_U: t(w.W_U),
    b_U: t(w.b_U),
  };
}

const HAND_REF_CFG = {
  n_layers: 0,
  d_model: 4,
  n_heads: 1,
  d_head: 4,
  d_mlp: 4,
  d_vocab: 4,
  n_ctx: 2,
  eps: 0.5,
  tie_word_embeddings: false,
};

/** What each hook must hold, by (mode, version). */
function handExpected(mode: 'raw' | 'processed', version: TransformerLensVersion): Record<string, number[]> {
  const normalized = mode === 'raw' && version === '2.x' ? HAND.affine : HAND.n;
  const out: Record<string, number[]> = { 'ln_final.hook_scale': [HAND.scale], 'ln_final.hook_normalized': normalized };
  if (version === '3.x') {
    // processed: ln_final is LayerNormPre and W_U, b_U absorbed w, b, so the unembedding reads n
    out['unembed.hook_in'] = mode === 'raw' ? HAND.affine : HAND.n;
    out['unembed.hook_out'] = HAND.affine;
  }
  return out;
}

describe('hand-sized LayerNorm: where hook_normalized sits (3.x before w, b; 2.x after)', () => {
  for (const version of TL_VERSIONS) {
    for (const mode of ['raw', 'processed'] as const) {
      it(`reference, ${mode}, ${version}`, () => {
        const w =
          mode === 'raw' ? handReference() : processReferenceWeights(handReference(), HAND_REF_CFG, { ...NO_PROCESSING, fold_ln: true });
        const run = referenceRun(HAND_REF_CFG, w, [0], DEFAULT_FLAGS, version);
        for (const [name, want] of Object.entries(handExpected(mode, version))) {
          assert.ok(relErr(run.cache.get(name)!.data, want) < 1e-15, `${name}: [${[...run.cache.get(name)!.data]}], expected [${want}]`);
        }
        assert.equal(run.cache.has('unembed.hook_out'), version === '3.x');
        assert.ok(relErr(run.logits.data, HAND.affine) < 1e-15);
      });

      it(`engine, ${mode}, ${version}`, async () => {
        const hand = handModel();
        const { cfg, weights } = mode === 'raw' ? hand : processWeights(hand.cfg, hand.weights, { ...NO_PROCESSING, fold_ln: true });
        const model = await HookedGPT2.fromWeights(cfg, weights, { transformerLensVersion: version, threads: 1 });
        try {
          const { logits, cache } = await model.runWithCache([0]);
          for (const [name, want] of Object.entries(handExpected(mode, version))) {
            assert.deepEqual([...cache.get(name).data], want, name);
          }
          assert.equal(cache.names().includes('unembed.hook_out'), version === '3.x');
          assert.deepEqual([...logits.data], HAND.affine);
        } finally {
          await model.dispose();
        }
      });
    }
  }

  it("unembed.hook_out with logitsAt 'last': read, and changed by an intervention", async () => {
    const { cfg, weights } = handModel();
    const model = await HookedGPT2.fromWeights({ ...cfg, n_ctx: 2 }, weights, { threads: 1 });
    try {
      // two positions: token 1's row of W_E is zero, so its normalized row is 0 and its logits are b
      const r = await model.forward([0, 1], { names: ['unembed.hook_out'], logitsAt: 'last' });
      assert.deepEqual(r.activations.get('unembed.hook_out')!.dims, [1, 2, 4]);
      assert.deepEqual(r.logits.dims, [1, 1, 4]);
      assert.deepEqual([...r.logits.data], [0.5, 0, 1, -1]);
      assert.deepEqual([...r.activations.get('unembed.hook_out')!.data], [...HAND.affine, 0.5, 0, 1, -1]);
      const vector: Tensor = { dims: [4], data: Float32Array.from([1, 2, 3, 4]) };
      const moved = await model.forward([0, 1], {
        interventions: [{ kind: 'addVector', hook: 'unembed.hook_out', vector }],
        logitsAt: 'last',
      });
      assert.deepEqual([...moved.logits.data], [1.5, 2, 4, 3]);
      const plain = await model.forward([0, 1], { logitsAt: 'last' });
      assert.deepEqual([...plain.logits.data], [0.5, 0, 1, -1]);
    } finally {
      await model.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The engine against the reference.

const TOL = 1e-5;
/** BOS, then a sentence's worth of real GPT-2 ids, repeats included (21 tokens). */
const TOKENS = [50256, 464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 198, 40, 1101, 257, 1332, 286, 262, 2068, 21831, 13];

interface Variant {
  readonly label: string;
  readonly gen: TinyGpt2Options;
  readonly flags: RefFlags;
}

const VARIANTS: Variant[] = [
  // The generator's defaults: F32, separate lm_head.weight, no key prefix.
  { label: 'default fixture', gen: { seed: 11 }, flags: DEFAULT_FLAGS },
  {
    label: 'F16, tied lm_head, no prefix, every hook flag on',
    gen: { seed: 12, dtype: 'F16', tiedLmHead: true, prefix: false },
    flags: ALL_FLAGS,
  },
  {
    label: 'BF16, transformer. prefix, tied lm_head',
    gen: { seed: 13, dtype: 'BF16', tiedLmHead: true, prefix: true },
    flags: DEFAULT_FLAGS,
  },
];

interface EngineRun {
  readonly logits: Tensor;
  readonly acts: Map<string, Tensor>;
}

function compareRun(engine: EngineRun, ref: RefRun): { hooks: HookError[]; problems: string[] } {
  const hooks: HookError[] = [];
  const problems: string[] = [];
  for (const [name, r] of ref.cache) {
    const e = engine.acts.get(name);
    if (!e) {
      problems.push(`${name} missing from the engine's cache`);
      continue;
    }
    if (e.dims.length !== r.dims.length || e.dims.some((d, i) => d !== r.dims[i]))
      problems.push(`${name}: dims [${e.dims}] vs reference [${r.dims}]`);
    hooks.push({ name, err: relErr(e.data, r.data) });
  }
  for (const name of engine.acts.keys())
    if (!ref.cache.has(name)) problems.push(`${name} cached by the engine but not a TransformerLens hook under these flags`);
  return { hooks, problems };
}

describe('engine parity with the float64 reference', { timeout: 600_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'modellens-parity-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const [vi, v] of VARIANTS.entries())
    for (const version of TL_VERSIONS) {
      describe(`${v.label} · TransformerLens ${version} hooks`, () => {
        const dir = join(root, `v${vi}-${version}`);
        const engine: Record<'processed' | 'raw', EngineRun | null> = { processed: null, raw: null };
        const ref: Record<'processed' | 'raw', RefRun | null> = { processed: null, raw: null };
        let refModel: RefModel;

        before(async () => {
          await generateTinyGpt2(dir, v.gen);
          refModel = loadReferenceModel(dir);
          for (const mode of ['processed', 'raw'] as const) {
            const model = await HookedGPT2.fromPretrained(dir, {
              processing: mode === 'processed',
              device: 'cpu',
              transformerLensVersion: version,
              ...v.flags,
            });
            try {
              const { logits, cache } = await model.runWithCache(TOKENS);
              engine[mode] = { logits, acts: new Map(cache.names().map((n) => [n, cache.get(n)] as const)) };
            } finally {
              await model.dispose();
            }
            const w = mode === 'processed' ? processReferenceWeights(refModel.weights, refModel.cfg, DEFAULT_PROCESSING) : refModel.weights;
            ref[mode] = referenceRun(refModel.cfg, w, TOKENS, v.flags, version);
          }
        });

        for (const mode of ['processed', 'raw'] as const) {
          it(`${mode}: every hook within ${TOL} (relErr = max|engine-ref| / max|ref|)`, () => {
            const { hooks, problems } = compareRun(engine[mode]!, ref[mode]!);
            assert.deepEqual(problems, []);
            const w = worst(hooks);
            assert.ok(
              hooks.length === ref[mode]!.cache.size && w.err <= TOL,
              `worst hook ${w.name}: relErr ${w.err.toExponential(3)} > ${TOL} (${hooks.filter((h) => h.err > TOL).length} of ${hooks.length} hooks over)`,
            );
          });

          it(`${mode}: logits within ${TOL}`, () => {
            const e = engine[mode]!.logits;
            assert.deepEqual(e.dims, ref[mode]!.logits.dims);
            const err = relErr(e.data, ref[mode]!.logits.data);
            const hint =
              refModel.cfg.tie_word_embeddings && v.gen.tiedLmHead !== true
                ? ' (this checkpoint has an lm_head.weight but config.json says tie_word_embeddings=true: transformers, and so TransformerLens, run it tied to wte)'
                : '';
            assert.ok(err <= TOL, `logits relErr ${err.toExponential(3)}${hint}`);
          });
        }

        it(`processed and raw log-softmax agree within ${TOL}`, () => {
          const V = refModel.cfg.d_vocab;
          const err = relErr(logSoftmax(engine.processed!.logits.data, V), logSoftmax(engine.raw!.logits.data, V));
          assert.ok(err <= TOL, `relErr ${err.toExponential(3)}`);
        });

        it(`processed residual streams are the raw ones centred over d_model (${TOL})`, () => {
          const errors = residNames(refModel.cfg.n_layers).map((name) => ({
            name,
            err: relErr(engine.processed!.acts.get(name)!.data, centred(engine.raw!.acts.get(name)!.data, refModel.cfg.d_model)),
          }));
          const w = worst(errors);
          assert.ok(w.err <= TOL, `${w.name}: relErr ${w.err.toExponential(3)}`);
        });
      });
    }
});
