// The editor features' engine request (EngineClient.predict → predictCompute.ts): through a real
// worker thread, its answers agree with the logits of HookedGPT2 run directly (softmax in float64
// here), and it returns only rows the features show.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { HookedGPT2 } from '../../src/engine/model';
import type { EngineClient } from '../../src/engine/worker/engineClient';
import { workerWithTinyModel, type WorkerFixture } from './helpers/workerFixture';

const TOKENS = [50256, 464, 2068, 7586, 21831, 625, 262, 16931, 3290];
const V = 50257;

function logSoftmaxAt(logits: Float32Array, p: number, id: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[p * V + v]!);
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(logits[p * V + v]! - max);
  return logits[p * V + id]! - max - Math.log(s);
}

function argmaxAt(logits: Float32Array, p: number): number {
  let arg = 0;
  for (let v = 1; v < V; v++) if (logits[p * V + v]! > logits[p * V + arg]!) arg = v;
  return arg;
}

describe('next-token predictions answered in the graph', { timeout: 120_000 }, () => {
  let fx: WorkerFixture;
  let client: EngineClient;
  let model: HookedGPT2;
  let logits: Float32Array;
  before(async () => {
    fx = await workerWithTinyModel('predict', 8);
    ({ client, model } = fx);
    logits = (await model.run(TOKENS)).data;
  });
  after(() => fx.close());

  it('every position: the loss of the token that follows (NaN at the last), rank and top-1', async () => {
    const r = await client.predict(TOKENS, { topK: 1, at: 'every' });
    assert.equal(r.loss.length, TOKENS.length);
    assert.equal(r.topIds.length, TOKENS.length);
    for (let p = 0; p + 1 < TOKENS.length; p++) {
      assert.ok(Math.abs(r.loss[p]! + logSoftmaxAt(logits, p, TOKENS[p + 1]!)) < 1e-4, `loss at ${p}`);
      assert.equal(r.topIds[p], argmaxAt(logits, p));
    }
    assert.ok(Number.isNaN(r.loss[TOKENS.length - 1]!));
    assert.equal(r.nextRank[TOKENS.length - 1], 0);
  });

  it('last position: top-k, and the target token probability and rank (the hover asks for the token that follows)', async () => {
    const p = TOKENS.length - 2;
    const target = TOKENS[p + 1]!;
    const r = await client.predict(TOKENS.slice(0, -1), { topK: 3, at: 'last', target });
    assert.equal(r.topIds.length, 3);
    assert.equal(r.topIds[0], argmaxAt(logits, p));
    assert.ok(r.topProbs[0]! >= r.topProbs[1]! && r.topProbs[1]! >= r.topProbs[2]!);
    assert.ok(Math.abs(Math.log(r.nextProb[0]!) - logSoftmaxAt(logits, p, target)) < 1e-4);
    let rank = 1;
    for (let v = 0; v < V; v++) if (logits[p * V + v]! > logits[p * V + target]!) rank++;
    assert.equal(r.nextRank[0], rank);
    const plain = await client.predict(TOKENS, { topK: 2, at: 'last' });
    assert.ok(Number.isNaN(plain.nextProb[0]!));
    assert.equal(plain.topIds[0], argmaxAt(logits, TOKENS.length - 1));
    await assert.rejects(client.predict(TOKENS, { topK: 2, at: 'last', target: V }), /target token 50257 is not an id/);
  });
});
