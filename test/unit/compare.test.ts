// The Compare view's numbers against the float64 reference: for two prompts, and for one prompt
// with and without a mean ablation (the reference applies it by hand as the hook fires), the lens
// probabilities at the last position per layer (accumulated resid, centred, divided by the cached
// ln_final scale, unembedded: accumulated_resid(apply_ln=True)), one head's pattern over the shared
// positions, and each run's top next tokens. Processed and unprocessed weights.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compareRuns } from '../../src/engine/experiments/compare';
import { panelInterventions } from '../../src/engine/experiments/panelInterventions';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING } from '../../src/engine/types';
import * as tokenizer from '../../src/tokenizer';
import { logSoftmax, referenceRun, type RefEdit } from '../reference/gpt2Float64';
import { loadReferenceModel, processReferenceWeights, type RefModel, type RefWeights } from '../reference/gpt2Weights64';
import { relErr } from '../support/compare';

const A = [50256, ...tokenizer.encode('The cat sat on the mat because it was')];
const B = [50256, ...tokenizer.encode('A dog ran in the park')];

interface RefSide {
  lens: Float64Array[]; // per layer, log-probs over the vocabulary at the last position
  pattern: Float64Array; // [pos, pos] of the chosen head
  next: Float64Array; // log-probs of the next token (the model's own logits at the last position)
  pos: number;
}

describe('compare view vs the float64 reference (tiny GPT-2)', { timeout: 300_000 }, () => {
  let dir: string;
  let ref: RefModel;
  const models: Partial<Record<'processed' | 'raw', HookedGPT2>> = {};
  const weights: Partial<Record<'processed' | 'raw', RefWeights>> = {};
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modellens-compare-'));
    await generateTinyGpt2(dir, { seed: 5 });
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

  function refSide(w: RefWeights, tokens: readonly number[], layer: number, head: number, edit?: RefEdit): RefSide {
    const { n_layers, d_model: D, d_vocab: V } = ref.cfg;
    const run = referenceRun(ref.cfg, w, tokens, undefined, undefined, edit);
    const P = tokens.length;
    const scale = run.cache.get('ln_final.hook_scale')!.data[P - 1]!;
    const hooks = [...Array.from({ length: n_layers }, (_, l) => `blocks.${l}.hook_resid_pre`), `blocks.${n_layers - 1}.hook_resid_post`];
    const lens = hooks.map((h) => {
      const x = run.cache.get(h)!.data.subarray((P - 1) * D, P * D);
      let mean = 0;
      for (const v of x) mean += v / D;
      const logits = new Float64Array(V);
      for (let v = 0; v < V; v++) {
        let s = w.b_U.data[v]!;
        for (let d = 0; d < D; d++) s += ((x[d]! - mean) / scale) * w.W_U.data[d * V + v]!;
        logits[v] = s;
      }
      return logSoftmax(logits, V);
    });
    const pat = run.cache.get(`blocks.${layer}.attn.hook_pattern`)!.data; // [1, H, P, P]
    const next = logSoftmax(run.logits.data.subarray((P - 1) * V, P * V), V);
    return { lens, pattern: pat.slice(head * P * P, (head + 1) * P * P), next, pos: P };
  }

  function check(got: Awaited<ReturnType<typeof compareRuns>>, ra: RefSide, rb: RefSide, label: string): void {
    const T = got.targets.length;
    const want = (r: RefSide): Float64Array => {
      const out = new Float64Array(r.lens.length * T);
      r.lens.forEach((lp, l) => got.targets.forEach((t, j) => (out[l * T + j] = Math.exp(lp[t]!))));
      return out;
    };
    assert.equal(got.layers.length, ref.cfg.n_layers + 1);
    const [ea, eb] = [relErr(got.lensA, want(ra)), relErr(got.lensB, want(rb))];
    assert.ok(ea < 1e-5 && eb < 1e-5, `${label}: lens relErr ${ea}, ${eb}`);
    // The difference the view shows is not all zeros (the two runs really differ).
    assert.ok(
      got.lensA.some((x, i) => Math.abs(x - got.lensB[i]!) > 1e-4),
      `${label}: the lens differs`,
    );
    const m = Math.min(ra.pos, rb.pos);
    assert.equal(got.m, m);
    const corner = (r: RefSide): Float64Array => {
      const out = new Float64Array(m * m);
      for (let q = 0; q < m; q++) for (let k = 0; k < m; k++) out[q * m + k] = r.pattern[q * r.pos + k]!;
      return out;
    };
    assert.ok(relErr(got.patternA, corner(ra)) < 1e-5, `${label}: pattern A`);
    assert.ok(relErr(got.patternB, corner(rb)) < 1e-5, `${label}: pattern B`);
    // Top next tokens: ids sorted by the reference's final log-probs, probabilities within 1e-5.
    for (const [top, r] of [
      [got.topA, ra],
      [got.topB, rb],
    ] as const) {
      // With unprocessed weights the lens's last row is not the model's output (ln_final's w and b
      // are not applied, as in TransformerLens's apply_ln_to_stack), so the top tokens are checked on the logits.
      const final = r.next;
      const order = Array.from(final.keys()).sort((x, y) => final[y]! - final[x]!);
      assert.deepEqual(Array.from(top.ids), order.slice(0, top.ids.length), `${label}: top ids`);
      top.ids.forEach((id, j) => assert.ok(Math.abs(top.probs[j]! - Math.exp(final[id]!)) < 1e-5, `${label}: top prob ${j}`));
    }
    // The lens is read at A's top k first, then B's.
    got.topA.ids.forEach((id, j) => assert.equal(got.targets[j], id));
  }

  for (const mode of ['processed', 'raw'] as const) {
    it(`${mode}: two prompts of different lengths, head 2 of layer 1`, async () => {
      const w = weights[mode]!;
      const got = await compareRuns(models[mode]!, {
        a: { tokens: A, interventions: [] },
        b: { tokens: B, interventions: [] },
        layer: 1,
        head: 2,
        k: 5,
      });
      check(got, refSide(w, A, 1, 2), refSide(w, B, 1, 2), mode);
    });

    it(`${mode}: one prompt with and without a mean ablation of heads 0 and 3 of layer 0`, async () => {
      const model = models[mode]!;
      const w = weights[mode]!;
      const ivs = await panelInterventions(model, {
        tokens: A,
        ablations: [
          { target: 'head', layer: 0, index: 0, kind: 'mean' },
          { target: 'head', layer: 0, index: 3, kind: 'mean' },
        ],
      });
      assert.equal(ivs.length, 1, 'two heads of one layer ablated the same way are one intervention');
      const got = await compareRuns(model, {
        a: { tokens: A, interventions: ivs },
        b: { tokens: A, interventions: [] },
        layer: 1,
        head: 0,
        k: 5,
      });
      const { n_heads: H, d_head: E } = ref.cfg;
      const hook = 'blocks.0.attn.hook_z';
      const z = referenceRun(ref.cfg, w, A).cache.get(hook)!.data;
      const mean = new Float64Array(H * E);
      for (let p = 0; p < A.length; p++) for (let i = 0; i < H * E; i++) mean[i] += z[p * H * E + i]! / A.length;
      const edit: RefEdit = (name, data) => {
        if (name !== hook) return;
        for (let p = 0; p < A.length; p++) for (const h of [0, 3]) for (let e = 0; e < E; e++) data[(p * H + h) * E + e] = mean[h * E + e]!;
      };
      check(got, refSide(w, A, 1, 0, edit), refSide(w, A, 1, 0), `${mode} ablation`);
    });
  }
});
