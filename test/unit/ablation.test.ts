// Ablation kinds and steering against the float64 reference, which applies each one by hand as
// the hook fires (RefEdit): zero, mean over positions (of the prompt or of another text) and
// resample (another prompt at the same positions), for heads and neurons; the steering vector
// added at every position. Logits relErr ≤ 1e-5 (parity's tolerance), processed and unprocessed.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { headAblation, neuronAblation, steering, steeringVector, type AblationKind } from '../../src/engine/experiments/ablation';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING } from '../../src/engine/types';
import * as tokenizer from '../../src/tokenizer';
import { referenceRun, type RefEdit } from '../reference/gpt2Float64';
import { loadReferenceModel, processReferenceWeights, type RefModel, type RefWeights } from '../reference/gpt2Weights64';
import { relErr } from '../support/compare';

const PROMPT = [50256, ...tokenizer.encode('The quick brown fox jumps over the dog')];
const OTHER = [50256, ...tokenizer.encode('A slow grey cat walks under a table')];
const TEXT = [50256, ...tokenizer.encode('Some other text for the mean, of a different length.')];

/** Mean over positions of a reference hook [1, P, ...rest] → [...rest]. */
function refMean(t: { dims: readonly number[]; data: Float64Array }): Float64Array {
  const P = t.dims[1]!;
  const inner = t.data.length / P;
  const out = new Float64Array(inner);
  for (let p = 0; p < P; p++) for (let i = 0; i < inner; i++) out[i] += t.data[p * inner + i]! / P;
  return out;
}

describe('ablation kinds and steering vs the float64 reference (tiny GPT-2)', { timeout: 300_000 }, () => {
  let dir: string;
  let ref: RefModel;
  const models: Partial<Record<'processed' | 'raw', HookedGPT2>> = {};
  const weights: Partial<Record<'processed' | 'raw', RefWeights>> = {};
  before(async () => {
    assert.equal(PROMPT.length, OTHER.length);
    assert.notEqual(TEXT.length, PROMPT.length);
    dir = mkdtempSync(join(tmpdir(), 'modellens-ablation-'));
    await generateTinyGpt2(dir, { seed: 9 });
    ref = loadReferenceModel(dir);
    for (const mode of ['processed', 'raw'] as const) {
      models[mode] = await HookedGPT2.fromPretrained(dir, { processing: mode === 'processed', device: 'cpu', threads: 1 });
      weights[mode] = mode === 'processed' ? processReferenceWeights(ref.weights, ref.cfg, DEFAULT_PROCESSING) : ref.weights;
    }
  });
  after(async () => {
    for (const m of Object.values(models)) await m.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function compare(got: Float32Array, edit: RefEdit, w: RefWeights, label: string): void {
    const want = referenceRun(ref.cfg, w, PROMPT, undefined, undefined, edit).logits.data;
    const plain = referenceRun(ref.cfg, w, PROMPT).logits.data;
    const err = relErr(got, want);
    assert.ok(err < 1e-5, `${label}: relErr ${err}`);
    assert.ok(relErr(plain, want) > 1e-4, `${label}: the intervention changes the logits`);
  }

  for (const mode of ['processed', 'raw'] as const) {
    const kinds: [AblationKind, 'prompt' | 'text' | null][] = [
      ['zero', null],
      ['mean', 'prompt'],
      ['mean', 'text'],
      ['resample', null],
    ];
    for (const [kind, meanOf] of kinds) {
      const label = `${mode}: ${kind}${meanOf ? ` over the ${meanOf}'s positions` : ''}`;
      it(`${label}, heads 1 and 3 of layer 1`, async () => {
        const model = models[mode]!;
        const w = weights[mode]!;
        const iv = await headAblation(
          model,
          PROMPT,
          { kind, layer: 1, heads: [1, 3] },
          { resampleTokens: OTHER, ...(meanOf === 'text' ? { meanTokens: TEXT } : {}) },
        );
        const { n_heads: H, d_head: E } = ref.cfg;
        const hook = 'blocks.1.attn.hook_z';
        const value =
          kind === 'mean'
            ? refMean(referenceRun(ref.cfg, w, meanOf === 'text' ? TEXT : PROMPT).cache.get(hook)!)
            : kind === 'resample'
              ? referenceRun(ref.cfg, w, OTHER).cache.get(hook)!.data
              : null;
        const edit: RefEdit = (name, data) => {
          if (name !== hook) return;
          for (let p = 0; p < PROMPT.length; p++)
            for (const h of [1, 3])
              for (let e = 0; e < E; e++) {
                const at = (p * H + h) * E + e;
                data[at] = value === null ? 0 : kind === 'mean' ? value[h * E + e]! : value[at]!;
              }
        };
        compare((await model.runWithInterventions(PROMPT, [iv])).logits.data, edit, w, label);
      });
      it(`${label}, neurons 3, 17 and 40 of layer 0`, async () => {
        const model = models[mode]!;
        const w = weights[mode]!;
        const neurons = [3, 17, 40];
        const iv = await neuronAblation(
          model,
          PROMPT,
          { kind, layer: 0, neurons },
          { resampleTokens: OTHER, ...(meanOf === 'text' ? { meanTokens: TEXT } : {}) },
        );
        const M = ref.cfg.d_mlp;
        const hook = 'blocks.0.mlp.hook_post';
        const value =
          kind === 'mean'
            ? refMean(referenceRun(ref.cfg, w, meanOf === 'text' ? TEXT : PROMPT).cache.get(hook)!)
            : kind === 'resample'
              ? referenceRun(ref.cfg, w, OTHER).cache.get(hook)!.data
              : null;
        const edit: RefEdit = (name, data) => {
          if (name !== hook) return;
          for (let p = 0; p < PROMPT.length; p++)
            for (const n of neurons) data[p * M + n] = value === null ? 0 : kind === 'mean' ? value[n]! : value[p * M + n]!;
        };
        compare((await model.runWithInterventions(PROMPT, [iv])).logits.data, edit, w, label);
      });
    }

    it(`${mode}: steering by coefficient × (plus − minus) at resid_pre of layer 1, every position`, async () => {
      const model = models[mode]!;
      const w = weights[mode]!;
      const req = {
        layer: 1,
        plus: [50256, ...tokenizer.encode(' Love')],
        minus: [50256, ...tokenizer.encode(' Hate it')],
        coefficient: 3,
      };
      const iv = await steering(model, req);
      const hook = 'blocks.1.hook_resid_pre';
      const D = ref.cfg.d_model;
      const meanAfterBos = (toks: readonly number[]): Float64Array => {
        const r = referenceRun(ref.cfg, w, toks).cache.get(hook)!.data;
        const out = new Float64Array(D);
        for (let p = 1; p < toks.length; p++) for (let d = 0; d < D; d++) out[d] += r[p * D + d]! / (toks.length - 1);
        return out;
      };
      const a = meanAfterBos(req.plus);
      const b = meanAfterBos(req.minus);
      const vec = a.map((x, d) => 3 * (x - b[d]!));
      const got = await steeringVector(model, req);
      assert.ok(relErr(got.data, vec) < 1e-5, `vector relErr ${relErr(got.data, vec)}`);
      const edit: RefEdit = (name, data) => {
        if (name !== hook) return;
        for (let p = 0; p < PROMPT.length; p++) for (let d = 0; d < D; d++) data[p * D + d] += vec[d]!;
      };
      compare((await model.runWithInterventions(PROMPT, [iv])).logits.data, edit, w, `${mode} steering`);
    });
  }

  it('resample from a prompt of another length is refused, with both lengths', async () => {
    await assert.rejects(
      headAblation(models.raw!, PROMPT, { kind: 'resample', layer: 0, heads: [0] }, { resampleTokens: TEXT }),
      new RegExp(`other prompt is ${TEXT.length} tokens, this one ${PROMPT.length}`),
    );
  });
});
