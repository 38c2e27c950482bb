// Parity of the GPT-2 engine with an independent float64 reference (test/reference/), hook by
// hook, in TransformerLens's processed and unprocessed modes.
//
// Metric (test/reference/compare.ts): for each hook, relErr = max|engine - ref| / max(max|ref|, 1e-30)
// over the tensor; causally masked attention scores must be exactly -inf in both. Tolerance 1e-5.
//
// The first suite checks the reference itself on a random F32 checkpoint it writes on its own,
// so a wrong oracle cannot pass silently.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2, type TinyGpt2Options } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING, NO_PROCESSING, type Tensor } from '../../src/engine/types';
import { relErr, worst, type HookError } from '../support/compare';
import { DEFAULT_FLAGS, geluNew, logSoftmax, referenceRun, type RefFlags, type RefRun } from '../reference/gpt2Float64';
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
    writeRandomGpt2(dir, { n_layer: 2, n_embd: 16, n_head: 4, vocab_size: 64, n_positions: 32, seed: 7, prefix: true, separateLmHead: false });
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
      writeRandomGpt2(d2, { n_layer: 1, n_embd: 8, n_head: 2, vocab_size: 40, n_positions: 16, seed: 3, prefix: false, separateLmHead: true });
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
        for (let p = 0; p < P; p++) for (let i = 0; i < n_heads; i++) for (let m = 0; m < d_model; m++) assert.equal(t.data[(p * n_heads + i) * d_model + m], pre[p * d_model + m]);
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

  it('fires 17 hooks per layer plus four outside the blocks', () => {
    const run = referenceRun(model.cfg, model.weights, tokens, DEFAULT_FLAGS);
    assert.equal(run.cache.size, 4 + 17 * model.cfg.n_layers);
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
  { label: 'F16, tied lm_head, no prefix, every hook flag on', gen: { seed: 12, dtype: 'F16', tiedLmHead: true, prefix: false }, flags: ALL_FLAGS },
  { label: 'BF16, transformer. prefix, tied lm_head', gen: { seed: 13, dtype: 'BF16', tiedLmHead: true, prefix: true }, flags: DEFAULT_FLAGS },
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
    if (e.dims.length !== r.dims.length || e.dims.some((d, i) => d !== r.dims[i])) problems.push(`${name}: dims [${e.dims}] vs reference [${r.dims}]`);
    hooks.push({ name, err: relErr(e.data, r.data) });
  }
  for (const name of engine.acts.keys()) if (!ref.cache.has(name)) problems.push(`${name} cached by the engine but not a TransformerLens hook under these flags`);
  return { hooks, problems };
}

describe('engine parity with the float64 reference', { timeout: 600_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'modellens-parity-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const [vi, v] of VARIANTS.entries()) {
    describe(v.label, () => {
      const dir = join(root, `v${vi}`);
      const engine: Record<'processed' | 'raw', EngineRun | null> = { processed: null, raw: null };
      const ref: Record<'processed' | 'raw', RefRun | null> = { processed: null, raw: null };
      let refModel: RefModel;

      before(async () => {
        await generateTinyGpt2(dir, v.gen);
        refModel = loadReferenceModel(dir);
        for (const mode of ['processed', 'raw'] as const) {
          const model = await HookedGPT2.fromPretrained(dir, { processing: mode === 'processed', device: 'cpu', ...v.flags });
          try {
            const { logits, cache } = await model.runWithCache(TOKENS);
            engine[mode] = { logits, acts: new Map(cache.names().map((n) => [n, cache.get(n)] as const)) };
          } finally {
            await model.dispose();
          }
          const w = mode === 'processed' ? processReferenceWeights(refModel.weights, refModel.cfg, DEFAULT_PROCESSING) : refModel.weights;
          ref[mode] = referenceRun(refModel.cfg, w, TOKENS, v.flags);
        }
      });

      for (const mode of ['processed', 'raw'] as const) {
        it(`${mode}: every hook within ${TOL} (relErr = max|engine-ref| / max|ref|)`, () => {
          const { hooks, problems } = compareRun(engine[mode]!, ref[mode]!);
          assert.deepEqual(problems, []);
          const w = worst(hooks);
          assert.ok(hooks.length === ref[mode]!.cache.size && w.err <= TOL, `worst hook ${w.name}: relErr ${w.err.toExponential(3)} > ${TOL} (${hooks.filter((h) => h.err > TOL).length} of ${hooks.length} hooks over)`);
        });

        it(`${mode}: logits within ${TOL}`, () => {
          const e = engine[mode]!.logits;
          assert.deepEqual(e.dims, ref[mode]!.logits.dims);
          const err = relErr(e.data, ref[mode]!.logits.data);
          const hint = refModel.cfg.tie_word_embeddings && v.gen.tiedLmHead !== true
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
