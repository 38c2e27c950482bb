// The activation panel's worker requests (src/engine/worker/panelCompute.ts) through a real
// EngineClient and worker thread, checked against HookedGPT2 run directly in this thread.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HookedGPT2 } from '../../src/engine/model';
import type { EngineClient } from '../../src/engine/worker/engineClient';
import { workerWithTinyModel, type WorkerFixture } from './helpers/workerFixture';
import { handlePanelOp, type PanelResult } from '../../src/engine/worker/panelCompute';
import { logitLens } from '../../kernels/readouts/logitLens';
import { dla } from '../../kernels/readouts/dla';

const TOKENS = [50256, 464, 2068, 7586, 21831, 625, 262, 16931, 3290];

function logSoftmaxAt(logits: Float32Array, V: number, p: number, id: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[p * V + v]!);
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(logits[p * V + v]! - max);
  return logits[p * V + id]! - max - Math.log(s);
}

function expectOp<K extends PanelResult['op']>(r: PanelResult, op: K): Extract<PanelResult, { op: K }> {
  assert.equal(r.op, op);
  return r as Extract<PanelResult, { op: K }>;
}

describe('activation panel requests in the engine worker', { timeout: 120_000 }, () => {
  let fx: WorkerFixture;
  let dir: string;
  let client: EngineClient;
  let model: HookedGPT2;
  before(async () => {
    fx = await workerWithTinyModel('panel', 5);
    ({ dir, client, model } = fx);
  });
  after(() => fx.close());

  it('summarises a run: per-token loss, top-k, thumbnails, residual norms', async () => {
    const r = expectOp(await client.panel({ op: 'run', tokens: Int32Array.from(TOKENS), interventions: [], topK: 5, thumb: 4 }), 'run');
    const logits = await model.run(TOKENS);
    const V = 50257;
    assert.equal(r.pos, TOKENS.length);
    for (let p = 0; p + 1 < TOKENS.length; p++) {
      const want = -logSoftmaxAt(logits.data, V, p, TOKENS[p + 1]!);
      assert.ok(Math.abs(r.loss[p]! - want) < 1e-3, `loss at ${p}: ${r.loss[p]} vs ${want}`);
    }
    assert.ok(Number.isNaN(r.loss[TOKENS.length - 1]!));
    // top-1 is the argmax of the direct run
    let arg = 0;
    const last = TOKENS.length - 1;
    for (let v = 1; v < V; v++) if (logits.data[last * V + v]! > logits.data[last * V + arg]!) arg = v;
    assert.equal(r.topIds[last * 5], arg);
    assert.ok(r.topProbs[last * 5]! >= r.topProbs[last * 5 + 1]!);
    assert.equal(r.thumbs.length, 2 * 4 * 4 * 4);
    assert.deepEqual(r.residLabels, ['0_pre', '0_mid', '1_pre', '1_mid', 'final_post']);
    assert.equal(r.residNorms.length, 5 * TOKENS.length);
  });

  it('sends one head pattern, the logit lens, neurons and DLA that agree with the direct model', async () => {
    const run = expectOp(await client.panel({ op: 'run', tokens: Int32Array.from(TOKENS), interventions: [], topK: 3, thumb: 8 }), 'run');
    const { cache, logits } = await model.runWithCache(TOKENS);
    const pat = expectOp(await client.panel({ op: 'pattern', runId: run.runId, layer: 1, head: 2 }), 'pattern');
    const full = cache.act('pattern', 1);
    const n = TOKENS.length;
    for (let i = 0; i < n * n; i++) assert.ok(Math.abs(pat.data[i]! - full.data[2 * n * n + i]!) < 1e-5);

    // A window first (as the panel asks for what is visible), then all positions: the window's
    // rows are kept and the rest are unembedded, so both must agree with the model.
    const win = expectOp(await client.panel({ op: 'logitLens', runId: run.runId, from: 2, to: 5 }), 'logitLens');
    assert.equal(win.from, 2);
    assert.equal(win.to, 5);
    assert.equal(win.topIds.length, 3 * 3);
    const lens = expectOp(await client.panel({ op: 'logitLens', runId: run.runId }), 'logitLens');
    assert.deepEqual(lens.labels, ['0_pre', '1_pre', 'final_post']);
    assert.equal(lens.from, 0);
    assert.equal(lens.to, n);
    for (let l = 0; l < 3; l++) {
      for (let p = 2; p < 5; p++) {
        assert.equal(win.topIds[l * 3 + p - 2], lens.topIds[l * n + p]);
        assert.equal(win.topProbs[l * 3 + p - 2], lens.topProbs[l * n + p]);
      }
    }
    await assert.rejects(client.panel({ op: 'logitLens', runId: run.runId, from: 4, to: n + 1 }), /window \[4, 10\) is not inside 0..9/);
    // Upper triangle of the held (packed) pattern is exactly zero, as in hook_pattern.
    for (let q = 0; q < n; q++) for (let k = q + 1; k < n; k++) assert.equal(pat.data[q * n + k], 0);
    // The last row is the model's own output distribution (ln_final + unembed).
    const V = 50257;
    for (let p = 0; p < n; p++) {
      let arg = 0;
      for (let v = 1; v < V; v++) if (logits.data[p * V + v]! > logits.data[p * V + arg]!) arg = v;
      assert.equal(lens.topIds[2 * n + p], arg, `final row top token at ${p}`);
      if (p + 1 < n) assert.ok(Math.abs(Math.log(lens.nextProb[2 * n + p]!) - logSoftmaxAt(logits.data, V, p, TOKENS[p + 1]!)) < 1e-3);
    }

    const neurons = expectOp(
      await client.panel({ op: 'neurons', runId: run.runId, layer: 0, count: 8, neuron: null, from: 0, to: n }),
      'neurons',
    );
    const post = cache.act('post', 0);
    const dMlp = post.dims[2]!;
    let bestPeak = -Infinity;
    for (let i = 0; i < post.data.length; i++) bestPeak = Math.max(bestPeak, post.data[i]!);
    let peakOfTop = -Infinity;
    for (let p = 0; p < n; p++) peakOfTop = Math.max(peakOfTop, post.data[p * dMlp + neurons.ids[0]!]!);
    assert.equal(peakOfTop, bestPeak);
    assert.equal(neurons.neuron, neurons.ids[0]);

    const token = TOKENS[4]!;
    const dla = expectOp(await client.panel({ op: 'dla', runId: run.runId, pos: 3, token }), 'dla');
    assert.equal(dla.labels[0], 'embed');
    assert.ok(dla.labels.includes('L1H3') && dla.labels.includes('1_mlp_out'));
    const heads = cache.stackHeadResults(2, { pos_slice: 3 });
    const want = cache.logitAttrs(heads.stack, [token], undefined, 3);
    const at = dla.labels.indexOf('L0H0');
    assert.ok(Math.abs(dla.values[at]! - want.data[0]!) < 1e-4);
  });

  it('a run over the hold budget holds nothing at first; each detail view gives the same answers, bit for bit', async () => {
    const ablate = [{ kind: 'ablateHeads' as const, layer: 0, heads: [2] }];
    const ask = async (holdUpToBytes: number | undefined): Promise<PanelResult[]> => {
      const run = expectOp(
        await client.panel({
          op: 'run',
          tokens: Int32Array.from(TOKENS),
          interventions: ablate,
          topK: 3,
          thumb: 4,
          ...(holdUpToBytes !== undefined ? { holdUpToBytes } : {}),
        }),
        'run',
      );
      const runId = run.runId;
      const n = TOKENS.length;
      return [
        run,
        await client.panel({ op: 'pattern', runId, layer: 1, head: 0 }),
        await client.panel({ op: 'logitLens', runId, from: 1, to: 4 }),
        await client.panel({ op: 'logitLens', runId }),
        await client.panel({ op: 'neurons', runId, layer: 1, count: 4, neuron: 7, from: 0, to: n }),
        await client.panel({ op: 'dla', runId, pos: 5, token: TOKENS[6]! }),
        await client.panel({ op: 'dla', runId, pos: 2, token: 13 }),
      ];
    };
    const heldFirst = await ask(undefined);
    const onDemand = await ask(0);
    const bits = (r: PanelResult): unknown =>
      Object.fromEntries(
        Object.entries(r)
          .filter(([k]) => k !== 'runId')
          .map(([k, v]) => [k, ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') : v]),
      );
    assert.equal(heldFirst.length, onDemand.length);
    heldFirst.forEach((r, i) => assert.deepEqual(bits(onDemand[i]!), bits(r), `${r.op} (request ${i})`));

    // What is held, on the model in this thread: nothing after the first view, then the lens's
    // hooks (which hold each layer's resid_pre: a pattern's view asks for them too); DLA runs a
    // forward of its own. Under the budget, all of them at once.
    const signal = new AbortController().signal;
    const runOp = { op: 'run' as const, tokens: Int32Array.from(TOKENS), interventions: [], topK: 1, thumb: 2 };
    const over = expectOp(await handlePanelOp(model, { ...runOp, holdUpToBytes: 0 }, signal), 'run');
    const state = model.runs.get(over.runId);
    assert.equal(state.held.size, 0);
    await handlePanelOp(model, { op: 'pattern', runId: over.runId, layer: 1, head: 1 }, signal);
    assert.deepEqual([...state.held.keys()].sort(), [...logitLens(0, 1).reads!(model.cfg)].sort());
    await handlePanelOp(model, { op: 'logitLens', runId: over.runId, from: 0, to: 2 }, signal);
    assert.deepEqual([...state.held.keys()].sort(), [...logitLens(0, 1).reads!(model.cfg)].sort());
    await handlePanelOp(model, { op: 'dla', runId: over.runId, pos: 1, token: 5 }, signal);
    assert.deepEqual([...state.held.keys()].sort(), [...logitLens(0, 1).reads!(model.cfg)].sort(), 'DLA over the budget holds nothing');
    const all = [...new Set([...logitLens(0, 1).reads!(model.cfg), ...dla(0, 0).reads!(model.cfg)])].sort();
    const under = expectOp(await handlePanelOp(model, runOp, signal), 'run');
    assert.deepEqual([...model.runs.get(under.runId).held.keys()].sort(), all);

    // Without interventions, DLA over the budget runs only the tokens up to its position (causal):
    // the same values as from the whole run's held hook points, at every position.
    const dlaAt = async (runId: number, p: number): Promise<Extract<PanelResult, { op: 'dla' }>> =>
      expectOp(await handlePanelOp(model, { op: 'dla', runId, pos: p, token: TOKENS[(p + 1) % TOKENS.length]! }, signal), 'dla');
    const fromHeld = [];
    for (let p = 0; p < TOKENS.length; p++) fromHeld.push(await dlaAt(under.runId, p));
    const again = expectOp(await handlePanelOp(model, { ...runOp, holdUpToBytes: 0 }, signal), 'run');
    for (let p = 0; p < TOKENS.length; p++) {
      const want = fromHeld[p]!;
      const got = await dlaAt(again.runId, p);
      const scale = Math.max(1, ...want.values.map(Math.abs));
      want.values.forEach((v, i) =>
        assert.ok(Math.abs(got.values[i]! - v) <= 1e-6 * scale, `pos ${p}, ${want.labels[i]}: ${got.values[i]} vs ${v}`),
      );
    }
    assert.equal(model.runs.get(again.runId).held.size, 0, 'DLA over the budget holds nothing');
  });

  it('an ablated head changes the loss; a stale run id is refused; export writes TransformerLens names', async () => {
    const clean = expectOp(await client.panel({ op: 'run', tokens: Int32Array.from(TOKENS), interventions: [], topK: 1, thumb: 2 }), 'run');
    const ablated = expectOp(
      await client.panel({
        op: 'run',
        tokens: Int32Array.from(TOKENS),
        interventions: [{ kind: 'ablateHeads', layer: 0, heads: [1] }],
        topK: 1,
        thumb: 2,
      }),
      'run',
    );
    assert.notEqual(ablated.meanLoss, clean.meanLoss);
    await assert.rejects(client.panel({ op: 'pattern', runId: clean.runId, layer: 0, head: 0 }), /no longer held/);
    const out = join(dir, 'cache.safetensors');
    const ex = expectOp(await client.panel({ op: 'export', runId: ablated.runId, path: out }), 'export');
    const bytes = readFileSync(out);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, { shape: number[] }>;
    assert.deepEqual(header['blocks.0.attn.hook_pattern']!.shape, [1, 4, TOKENS.length, TOKENS.length]);
    assert.ok('ln_final.hook_normalized' in header);
    assert.equal(ex.tensors, Object.keys(header).filter((k) => k !== '__metadata__').length);
  });

  it('a cancelled panel run rejects with AbortError and the next one succeeds', async () => {
    const ac = new AbortController();
    const p = client.panel({ op: 'run', tokens: Int32Array.from(TOKENS), interventions: [], topK: 1, thumb: 2 }, ac.signal);
    ac.abort();
    await assert.rejects(p, { name: 'AbortError' });
    const r = await client.panel({ op: 'run', tokens: Int32Array.from(TOKENS), interventions: [], topK: 1, thumb: 2 });
    assert.equal(r.op, 'run');
  });
});
