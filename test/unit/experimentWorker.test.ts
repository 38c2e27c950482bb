// Experiments through the engine worker: the worker's result equals the in-process engine's
// (the float64 checks are in patching.test.ts and headDetector.test.ts), one cell's top tokens,
// and a cancelled sweep rejects as an abort.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { isAbortError } from '../../src/common/errors';
import { detectHeads, repeatedRandomTokens } from '../../src/engine/experiments/headDetector';
import { activationPatching } from '../../src/engine/experiments/patching';
import type { HookedGPT2 } from '../../src/engine/model';
import type { EngineClient } from '../../src/engine/worker/engineClient';
import { panelInterventions } from '../../src/engine/experiments/panelInterventions';
import { relErr } from '../support/compare';
import { workerWithTinyModel, type WorkerFixture } from './helpers/workerFixture';
import * as tokenizer from '../../src/tokenizer';

const CLEAN = [50256, ...tokenizer.encode('Mary and John went out. John gave it to')];
const CORRUPTED = [50256, ...tokenizer.encode('Mary and John went out. Mary gave it to')];
const METRIC = { kind: 'logitDiff', answer: 38487, wrong: 7586 } as const;

describe('experiments in the engine worker', { timeout: 120_000 }, () => {
  let fx: WorkerFixture;
  let client: EngineClient;
  let model: HookedGPT2;
  before(async () => {
    fx = await workerWithTinyModel('exp-worker', 3);
    ({ client, model } = fx);
  });
  after(() => fx.close());

  it('a patching sweep returns the grid the engine computes in-process', async () => {
    const r = await client.experiment({
      op: 'patching',
      clean: Int32Array.from(CLEAN),
      corrupted: Int32Array.from(CORRUPTED),
      metric: METRIC,
      sweep: 'head_out',
    });
    assert.equal(r.op, 'patching');
    if (r.op !== 'patching') return;
    const local = await activationPatching(model, { clean: CLEAN, corrupted: CORRUPTED, metric: METRIC, sweep: 'head_out' });
    assert.equal(r.rows, 2);
    assert.equal(r.cols, 4);
    for (let k = 0; k < r.raw.length; k++) assert.ok(Math.abs(r.raw[k]! - local.raw[k]!) < 1e-5, `cell ${k}`);
    assert.ok(Math.abs(r.normalized[0]! - local.normalized![0]!) < 1e-4);
  });

  it("one cell's patched run gives its top next tokens with probabilities", async () => {
    const r = await client.experiment({
      op: 'patchTop',
      clean: Int32Array.from(CLEAN),
      corrupted: Int32Array.from(CORRUPTED),
      sweep: 'resid_pre',
      cell: 7,
      k: 5,
    });
    assert.equal(r.op, 'patchTop');
    if (r.op !== 'patchTop') return;
    assert.equal(r.ids.length, 5);
    for (let i = 1; i < 5; i++) assert.ok(r.probs[i - 1]! >= r.probs[i]!);
    assert.ok(r.probs[0]! > 0 && r.probs[0]! <= 1);
  });

  it('head detection returns every kind for every head, as in-process', async () => {
    const toks = repeatedRandomTokens(0, 10, 50257);
    const r = await client.experiment({ op: 'detectHeads', tokens: Int32Array.from(toks) });
    assert.equal(r.op, 'detectHeads');
    if (r.op !== 'detectHeads') return;
    const local = await detectHeads(model, toks);
    assert.deepEqual(r.kinds, ['previous_token_head', 'duplicate_token_head', 'induction_head']);
    r.kinds.forEach((k, i) => {
      for (let j = 0; j < 8; j++) assert.ok(Math.abs(r.scores[i * 8 + j]! - local.scores[k][j]!) < 1e-6);
    });
  });

  it("the panel's ablations and steering come back as the interventions the engine builds in-process", async () => {
    const req = {
      tokens: CLEAN,
      ablations: [
        { target: 'head', layer: 1, index: 2, kind: 'resample' },
        { target: 'head', layer: 1, index: 0, kind: 'resample' },
        { target: 'neuron', layer: 0, index: 5, kind: 'mean' },
        { target: 'head', layer: 0, index: 1, kind: 'zero' },
      ],
      resampleTokens: CORRUPTED,
      meanTokens: [50256, ...tokenizer.encode('Another text to take the mean over')],
      steering: { layer: 1, plus: [50256, ...tokenizer.encode(' Love')], minus: [50256, ...tokenizer.encode(' Hate')], coefficient: 4 },
    } as const;
    const r = await client.experiment({ op: 'interventions', ...req });
    assert.equal(r.op, 'interventions');
    if (r.op !== 'interventions') return;
    const local = await panelInterventions(model, req);
    assert.deepEqual(
      r.interventions.map((i) => i.kind),
      ['ablateHeads', 'ablateHeads', 'ablateNeurons', 'addVector'],
    );
    // The worker's interventions give the same logits as the in-process ones, and differ from a plain run.
    const viaWorker = (await model.runWithInterventions(CLEAN, r.interventions)).logits.data;
    const inProcess = (await model.runWithInterventions(CLEAN, local)).logits.data;
    const plain = (await model.runWithInterventions(CLEAN, [])).logits.data;
    assert.ok(relErr(viaWorker, inProcess) < 1e-6);
    assert.ok(relErr(plain, inProcess) > 1e-4);

    // Top next tokens with the steering vector: the steered run's own top-k, not the plain one's.
    const steer = r.interventions.filter((i) => i.kind === 'addVector');
    const top = await client.experiment({ op: 'nextTokens', tokens: Int32Array.from(CLEAN), interventions: steer, k: 5 });
    assert.equal(top.op, 'nextTokens');
    if (top.op !== 'nextTokens') return;
    const steered = (await model.runWithInterventions(CLEAN, steer)).logits.data;
    const V = steered.length / CLEAN.length;
    const last = Array.from(steered.subarray(steered.length - V));
    const order = Array.from(last.keys()).sort((a, b) => last[b]! - last[a]!);
    assert.deepEqual(Array.from(top.ids), order.slice(0, 5));
    const lse = Math.log(last.reduce((s, x) => s + Math.exp(x - last[order[0]!]!), 0)) + last[order[0]!]!;
    top.ids.forEach((id, j) => assert.ok(Math.abs(top.probs[j]! - Math.exp(last[id]! - lse)) < 1e-5));
  });

  it('a cancelled sweep rejects as an abort and the worker keeps serving', async () => {
    const abort = new AbortController();
    const p = client.experiment(
      { op: 'patching', clean: Int32Array.from(CLEAN), corrupted: Int32Array.from(CORRUPTED), metric: METRIC, sweep: 'resid_pre' },
      abort.signal,
    );
    abort.abort();
    await assert.rejects(p, (e) => isAbortError(e));
    const again = await client.experiment({ op: 'detectHeads', tokens: Int32Array.from(CLEAN) });
    assert.equal(again.op, 'detectHeads');
  });
});
