// Batched runs: a batch of prompts is one session call whose results equal the prompts run one by
// one, and runMetricBatch (K intervention sets, metric in the graph) equals K separate runs.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { runMetricBatch, type InterventionSet } from '../../src/engine/batch';
import { metricReadout, METRIC_OUTPUT, type Metric } from '../../src/engine/experiments/metric';
import { HookedGPT2 } from '../../src/engine/model';
import type { Tensor } from '../../src/engine/types';
import { logSoftmax } from '../reference/gpt2Float64';
import { relErr } from '../support/compare';
import { randomWeights, tinyConfig } from './helpers/engineFixtures';

const TIMEOUT = 120_000;
const A = [50256, 464, 2068, 7586, 21831, 18045, 625];
const B = [50256, 40, 588, 257, 1110, 286, 262];
const C = [50256, 40, 2068, 257, 21831, 286, 625];

/** Batch entry k of a [batch, ...] tensor as its own [1, ...] tensor. */
function entry(t: Tensor, k: number): Tensor {
  const size = t.data.length / t.dims[0]!;
  return { dims: [1, ...t.dims.slice(1)], data: t.data.slice(k * size, (k + 1) * size) };
}

/** The metric from full logits [1, pos, V], in float64 (what the graph computes). */
function metricOf(logits: Tensor, tokens: readonly number[], m: Metric): number {
  const V = logits.dims[2]!;
  const P = logits.dims[1]!;
  if (m.kind === 'logitDiff') return logits.data[(P - 1) * V + m.answer]! - logits.data[(P - 1) * V + m.wrong]!;
  const lp = logSoftmax(logits.data, V);
  let s = 0;
  for (let p = 0; p < P - 1; p++) s -= lp[p * V + tokens[p + 1]!]!;
  return s / (P - 1);
}

describe('batched runs (tiny random model, real onnxruntime)', { timeout: TIMEOUT }, () => {
  let model: HookedGPT2;
  before(async () => {
    const cfg = tinyConfig();
    model = await HookedGPT2.fromWeights(cfg, randomWeights(cfg, 11), { threads: 1 });
  });
  after(() => model.dispose());

  it('runWithCache on a batch equals each prompt alone, logits and every hook (1e-6)', async () => {
    const batched = await model.runWithCache([A, B, C]);
    assert.deepEqual(batched.logits.dims, [3, A.length, model.cfg.d_vocab_out]);
    for (const [k, toks] of [A, B, C].entries()) {
      const alone = await model.runWithCache(toks);
      const e = relErr(entry(batched.logits, k).data, alone.logits.data);
      assert.ok(e < 1e-6, `prompt ${k} logits relErr ${e}`);
      for (const name of alone.cache.names()) {
        const got = batched.cache.get(name);
        assert.equal(got.dims[0], 3, name);
        const err = relErr(entry(got, k).data, alone.cache.get(name).data);
        assert.ok(err < 1e-6, `prompt ${k} ${name} relErr ${err}`);
      }
    }
  });

  it('runWithInterventions on a batch applies the interventions to every entry', async () => {
    const ivs = [{ kind: 'ablateHeads', layer: 1, heads: [0, 2] } as const];
    const batched = await model.runWithInterventions([A, B], ivs);
    for (const [k, toks] of [A, B].entries()) {
      const alone = await model.runWithInterventions(toks, ivs);
      const e = relErr(entry(batched.logits, k).data, alone.logits.data);
      assert.ok(e < 1e-6, `prompt ${k} relErr ${e}`);
    }
  });

  it('refuses an empty prompt in a batch, naming it', async () => {
    await assert.rejects(model.run([A, []]), /prompt 1 of the batch is empty/);
    await assert.rejects(model.run([]), /no tokens to run/);
  });

  for (const metric of [{ kind: 'logitDiff', answer: 625, wrong: 262 }, { kind: 'loss' }] as const) {
    it(`runMetricBatch (${metric.kind}) equals each intervention set run alone, in one or several calls`, async () => {
      const clean = await model.runWithCache(B);
      const z1 = clean.cache.get('blocks.1.attn.hook_z');
      const r0 = clean.cache.get('blocks.0.hook_resid_pre');
      const zeros: Tensor = { dims: z1.dims, data: new Float32Array(z1.data.length) };
      const sets: InterventionSet[] = [
        [],
        [],
        [{ hook: 'blocks.0.hook_resid_pre', source: r0, positions: [3] }],
        [{ hook: 'blocks.1.attn.hook_z', source: z1, heads: [1] }],
        [{ hook: 'blocks.1.attn.hook_z', source: zeros, heads: [0, 3], positions: [2, 6] }],
        [
          { hook: 'blocks.0.hook_resid_pre', source: r0, positions: [1, 2] },
          { hook: 'blocks.1.attn.hook_z', source: z1, heads: [2] },
        ],
      ];
      const one = await runMetricBatch(model, A, sets, metric, { maxBatch: 64 });
      const split = await runMetricBatch(model, A, sets, metric, { maxBatch: 2 });
      for (const [k, set] of sets.entries()) {
        const ivs = set.map((e) => ({ kind: 'patch', hook: e.hook, source: e.source, positions: e.positions, heads: e.heads }) as const);
        const alone = await model.runWithInterventions(A, ivs);
        const want = metricOf(alone.logits, A, metric);
        assert.ok(Math.abs(one[k]! - want) < 1e-4 * Math.max(1, Math.abs(want)), `set ${k}: batched ${one[k]}, alone ${want}`);
        assert.ok(Math.abs(split[k]! - one[k]!) < 1e-5 * Math.max(1, Math.abs(want)), `set ${k}: chunked ${split[k]}, one call ${one[k]}`);
      }
      assert.notEqual(one[0], one[2], 'patching a head changes the metric');
    });
  }

  it('the metric readout on a batch of different prompts returns one number per prompt', async () => {
    const m: Metric = { kind: 'loss' };
    const readout = metricReadout(m, model.cfg.d_vocab_out);
    const got = (await model.readout([A, B], [readout])).get(readout.key)![METRIC_OUTPUT]!;
    assert.deepEqual(got.dims, [2]);
    for (const [k, toks] of [A, B].entries()) {
      const want = metricOf(await model.run(toks), toks, m);
      assert.ok(Math.abs(Number(got.data[k]!) - want) < 1e-5, `prompt ${k}: ${got.data[k]} vs ${want}`);
    }
  });

  it('answer tokens outside the vocabulary are refused before running', () => {
    assert.throws(() => metricReadout({ kind: 'logitDiff', answer: 1e9, wrong: 0 }, model.cfg.d_vocab_out), /answer token 1000000000/);
  });
});
