// Every readout (kernels/readouts/) against the float64 reference computed from the full
// activations (test/reference/), in processed and unprocessed modes, at the hooks' tolerance:
// relErr = max|engine - ref| / max|ref| <= 1e-5 per answer; token ids and ranks exactly.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HookedGPT2 } from '../../src/engine/model';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import { DEFAULT_PROCESSING } from '../../src/engine/types';
import type { Readout, ReadoutAnswer } from '../../src/engine/readouts';
import { lossAndTopK } from '../../kernels/readouts/lossAndTopK';
import { thumbnails } from '../../kernels/readouts/thumbnails';
import { residualNorms } from '../../kernels/readouts/residualNorms';
import { headPattern } from '../../kernels/readouts/headPattern';
import { topNeurons } from '../../kernels/readouts/topNeurons';
import { logitLens } from '../../kernels/readouts/logitLens';
import { dla } from '../../kernels/readouts/dla';
import { nextToken } from '../../kernels/readouts/nextToken';
import { held, heldActivations } from '../../kernels/readouts/held';
import { metric } from '../../kernels/readouts/metric';
import type { Intervention } from '../../src/engine/interventions';
import type { HeldActivations } from '../../src/engine/runState';
import { relErr } from '../support/compare';
import { referenceRun, type RefRun } from '../reference/gpt2Float64';
import { loadReferenceModel, processReferenceWeights, type RefConfig, type RefWeights, type T64 } from '../reference/gpt2Weights64';

const TOL = 1e-5;
const TOKENS = [50256, 464, 2068, 7586, 21831, 625, 262, 16931, 3290, 13, 383, 2068, 318];
const P = TOKENS.length;

function floats(a: ReadoutAnswer, name: string): Float32Array {
  const t = a[name];
  assert.ok(t?.data instanceof Float32Array, `${name} is float32`);
  return t.data;
}

function ints(a: ReadoutAnswer, name: string): number[] {
  const t = a[name];
  assert.ok(t?.data instanceof BigInt64Array, `${name} is int64`);
  return Array.from(t.data, Number);
}

function near(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const err = relErr(actual, expected);
  assert.ok(err <= TOL, `${what}: relErr ${err.toExponential(3)} > ${TOL}`);
}

const act = (r: RefRun, name: string): T64 => {
  const t = r.cache.get(name);
  if (!t) throw new Error(`reference has no ${name}`);
  return t;
};

/** Row-wise max / argmax / log-sum-exp of a float64 row. */
function rowStats(x: Float64Array, off: number, V: number): { lse: number; arg: number; max: number } {
  let max = -Infinity;
  let arg = 0;
  for (let v = 0; v < V; v++)
    if (x[off + v]! > max) {
      max = x[off + v]!;
      arg = v;
    }
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(x[off + v]! - max);
  return { lse: max + Math.log(s), arg, max };
}

/** A d_model vector centred and divided by ln_final's cached scale at `pos` (apply_ln_to_stack). */
function lnFinal(r: RefRun, vec: ArrayLike<number>, pos: number): Float64Array {
  const d = vec.length;
  let mean = 0;
  for (let i = 0; i < d; i++) mean += vec[i]!;
  mean /= d;
  const scale = act(r, 'ln_final.hook_scale').data[pos]!;
  return Float64Array.from({ length: d }, (_, i) => (vec[i]! - mean) / scale);
}

function rowOf(t: T64, pos: number, d: number): Float64Array {
  return t.data.slice(pos * d, (pos + 1) * d);
}

/**
 * Processed or not, each from an untied checkpoint and from a tied one, whose unembedding is W_E
 * read with processing's corrections (src/engine/tiedUnembed.ts): every readout that unembeds
 * takes that path there.
 */
const MODES = ['processed', 'raw', 'processed, tied', 'raw, tied'] as const;
type Mode = (typeof MODES)[number];

/** The largest |a[i] - b[i]|. */
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('readouts in the graph equal the float64 reference from full activations', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-lens-readouts-'));
  let cfg: RefConfig;
  const ref: Partial<Record<Mode, { run: RefRun; w: RefWeights }>> = {};
  const engine: Partial<Record<Mode, HookedGPT2>> = {};

  before(async () => {
    for (const tied of [false, true]) {
      const folder = join(dir, tied ? 'tied' : 'untied');
      await generateTinyGpt2(folder, { seed: 21, tiedLmHead: tied });
      const m = loadReferenceModel(folder);
      cfg = m.cfg;
      for (const processed of [true, false]) {
        const mode: Mode = `${processed ? 'processed' : 'raw'}${tied ? ', tied' : ''}`;
        const w = processed ? processReferenceWeights(m.weights, cfg, DEFAULT_PROCESSING) : m.weights;
        ref[mode] = { run: referenceRun(cfg, w, TOKENS), w };
        engine[mode] = await HookedGPT2.fromPretrained(folder, { processing: processed, threads: 1 });
      }
    }
  });
  after(async () => {
    for (const m of Object.values(engine)) await m?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function ask(mode: Mode, r: Readout): Promise<ReadoutAnswer> {
    const answers = await engine[mode]!.readout(TOKENS, [r]);
    return answers.get(r.key)!;
  }

  /** Hook points as the `held` readout returns them, ready to feed back (readout's `held` option). */
  async function holdHooks(
    model: HookedGPT2,
    hooks: readonly string[],
    interventions: readonly Intervention[] = [],
  ): Promise<HeldActivations> {
    const keep = held(hooks);
    return heldActivations(hooks, (await model.readout(TOKENS, [keep], { interventions })).get(keep.key)!);
  }

  /** The same readout answered from held copies of the hooks it reads: no transformer block runs. */
  async function askHeld(mode: Mode, r: Readout): Promise<ReadoutAnswer> {
    const model = engine[mode]!;
    return (await model.readout(TOKENS, [r], { held: await holdHooks(model, r.reads!(model.cfg)) })).get(r.key)!;
  }

  for (const mode of MODES) {
    it(`${mode}: loss, top-k, next-token probability and rank`, async () => {
      const K = 5;
      const a = await ask(mode, lossAndTopK(K));
      const { run } = ref[mode]!;
      const V = cfg.d_vocab;
      const L = run.logits.data;
      const loss: number[] = [];
      const nextProb: number[] = [];
      const rank: number[] = [];
      const topP: number[] = [];
      const topI: number[] = [];
      for (let p = 0; p < P; p++) {
        const { lse } = rowStats(L, p * V, V);
        const order = Array.from({ length: V }, (_, v) => v).sort((x, y) => L[p * V + y]! - L[p * V + x]! || x - y);
        for (const v of order.slice(0, K)) {
          topI.push(v);
          topP.push(Math.exp(L[p * V + v]! - lse));
        }
        if (p + 1 < P) {
          const x = L[p * V + TOKENS[p + 1]!]!;
          loss.push(lse - x);
          nextProb.push(Math.exp(x - lse));
          let above = 0;
          for (let v = 0; v < V; v++) if (L[p * V + v]! > x) above++;
          rank.push(above + 1);
        }
      }
      near(floats(a, 'loss').slice(0, P - 1), loss, 'loss');
      near(floats(a, 'nextProb').slice(0, P - 1), nextProb, 'nextProb');
      assert.deepEqual(ints(a, 'nextRank').slice(0, P - 1), rank);
      assert.deepEqual(ints(a, 'topIds'), topI);
      near(floats(a, 'topProbs'), topP, 'topProbs');
    });

    it(`${mode}: the last position's top-k and one target token's probability and rank (last position unembedded alone)`, async () => {
      const { run } = ref[mode]!;
      const V = cfg.d_vocab;
      const L = run.logits.data;
      const off = (P - 1) * V;
      const { lse } = rowStats(L, off, V);
      const order = Array.from({ length: V }, (_, v) => v).sort((x, y) => L[off + y]! - L[off + x]! || x - y);
      const target = 2068;
      let above = 0;
      for (let v = 0; v < V; v++) if (L[off + v]! > L[off + target]!) above++;
      const a = await ask(mode, nextToken(4, target));
      assert.deepEqual(ints(a, 'topIds'), order.slice(0, 4));
      near(
        floats(a, 'topProbs'),
        order.slice(0, 4).map((v) => Math.exp(L[off + v]! - lse)),
        'top probabilities',
      );
      near(floats(a, 'targetProb'), [Math.exp(L[off + target]! - lse)], 'target probability');
      assert.deepEqual(ints(a, 'targetRank'), [above + 1]);
    });

    it(`${mode}: attention thumbnails (mean-pooled patterns), residual norms, one head's pattern`, async () => {
      const { run } = ref[mode]!;
      const t = 4;
      const answers = await engine[mode]!.readout(TOKENS, [thumbnails(t), residualNorms(), headPattern(1, 2)]);
      const want: number[] = [];
      for (let l = 0; l < cfg.n_layers; l++) {
        const pat = act(run, `blocks.${l}.attn.hook_pattern`).data;
        for (let h = 0; h < cfg.n_heads; h++) {
          const sum = new Float64Array(t * t);
          const n = new Float64Array(t * t);
          for (let q = 0; q < P; q++)
            for (let k = 0; k < P; k++) {
              const c = Math.floor((q * t) / P) * t + Math.floor((k * t) / P);
              sum[c]! += pat[(h * P + q) * P + k]!;
              n[c]! += 1;
            }
          for (let c = 0; c < t * t; c++) want.push(sum[c]! / n[c]!);
        }
      }
      near(floats(answers.get('thumbnails.4')!, 'thumbs'), want, 'thumbs');

      const norms: number[] = [];
      const comps: string[] = [];
      for (let l = 0; l < cfg.n_layers; l++) comps.push(`blocks.${l}.hook_resid_pre`, `blocks.${l}.hook_resid_mid`);
      comps.push(`blocks.${cfg.n_layers - 1}.hook_resid_post`);
      for (const c of comps) {
        const x = act(run, c);
        for (let p = 0; p < P; p++) norms.push(Math.hypot(...rowOf(x, p, cfg.d_model)));
      }
      near(floats(answers.get('residualNorms')!, 'norms'), norms, 'norms');

      const pat = act(run, 'blocks.1.attn.hook_pattern').data.slice(2 * P * P, 3 * P * P);
      near(floats(answers.get('headPattern.1')!, 'pattern'), pat, 'head pattern');
    });

    it(`${mode}: top neurons in a window, their activations, one neuron's column`, async () => {
      const { run } = ref[mode]!;
      const M = cfg.d_mlp;
      const post = act(run, 'blocks.1.mlp.hook_post').data;
      const [from, to, count] = [3, 9, 6];
      const peak = Array.from({ length: M }, (_, i) => Math.max(...Array.from({ length: to - from }, (_, k) => post[(from + k) * M + i]!)));
      const order = Array.from({ length: M }, (_, i) => i).sort((x, y) => peak[y]! - peak[x]! || x - y);
      const top = order.slice(0, count);
      const a = await ask(mode, topNeurons(1, count, from, to, null));
      assert.deepEqual(ints(a, 'ids'), top);
      near(
        floats(a, 'values'),
        Array.from({ length: P * count }, (_, i) => post[Math.floor(i / count) * M + top[i % count]!]!),
        'values',
      );
      assert.deepEqual(ints(a, 'neuron'), [top[0]]);
      const b = await ask(mode, topNeurons(1, count, from, to, 7));
      assert.deepEqual(ints(b, 'neuron'), [7]);
      near(
        floats(b, 'column'),
        Array.from({ length: P }, (_, p) => post[p * M + 7]!),
        'column',
      );
    });

    it(`${mode}: logit lens rows (top token, its probability, the next token's) in a window, in the forward and from held hooks`, async () => {
      const { run, w } = ref[mode]!;
      const [from, to] = [2, 11];
      const V = cfg.d_vocab;
      const D = cfg.d_model;
      for (const a of [await ask(mode, logitLens(from, to)), await askHeld(mode, logitLens(from, to))]) {
        const hooks = [
          ...Array.from({ length: cfg.n_layers }, (_, l) => `blocks.${l}.hook_resid_pre`),
          `blocks.${cfg.n_layers - 1}.hook_resid_post`,
        ];
        const ids: number[] = [];
        const topP: number[] = [];
        const nextP: number[] = [];
        const got = floats(a, 'nextProb');
        const gotNext: number[] = [];
        hooks.forEach((h, l) => {
          for (let p = from; p < to; p++) {
            const x = lnFinal(run, rowOf(act(run, h), p, D), p);
            const logits = new Float64Array(V);
            for (let v = 0; v < V; v++) {
              let s = w.b_U.data[v]!;
              for (let i = 0; i < D; i++) s += x[i]! * w.W_U.data[i * V + v]!;
              logits[v] = s;
            }
            const st = rowStats(logits, 0, V);
            ids.push(st.arg);
            topP.push(Math.exp(st.max - st.lse));
            if (p + 1 < P) {
              nextP.push(Math.exp(logits[TOKENS[p + 1]!]! - st.lse));
              gotNext.push(got[l * (to - from) + p - from]!);
            }
          }
        });
        assert.deepEqual(ints(a, 'topIds'), ids);
        near(floats(a, 'topProbs'), topP, 'lens top probability');
        near(gotNext, nextP, 'lens next-token probability');
      }
    });

    it(`${mode}: direct logit attribution at one position for one token`, async () => {
      const { run, w } = ref[mode]!;
      const [pos, token] = [6, 2068];
      const { d_model: D, n_heads: H, d_head: E, d_vocab: V } = cfg;
      const a = await ask(mode, dla(pos, token));
      const comps: Float64Array[] = [rowOf(act(run, 'hook_embed'), pos, D), rowOf(act(run, 'hook_pos_embed'), pos, D)];
      for (let l = 0; l < cfg.n_layers; l++) comps.push(rowOf(act(run, `blocks.${l}.hook_mlp_out`), pos, D));
      for (let l = 0; l < cfg.n_layers; l++) {
        const z = act(run, `blocks.${l}.attn.hook_z`).data; // [1, pos, H, E]
        const WO = w.blocks[l]!.W_O.data; // [H, E, D]
        for (let h = 0; h < H; h++) {
          const out = new Float64Array(D);
          for (let e = 0; e < E; e++) for (let m = 0; m < D; m++) out[m]! += z[(pos * H + h) * E + e]! * WO[(h * E + e) * D + m]!;
          comps.push(out);
        }
      }
      const want = comps.map((c) => {
        const x = lnFinal(run, c, pos);
        let s = 0;
        for (let m = 0; m < D; m++) s += x[m]! * w.W_U.data[m * V + token]!;
        return s;
      });
      near(floats(a, 'values'), want, 'dla');
      near(floats(await askHeld(mode, dla(pos, token)), 'values'), want, 'dla from held hook points');
    });
  }

  for (const mode of ['processed', 'raw'] as const) {
    it(`${mode}: over more than 256 positions, loss, top-k and rank are answered in windows and equal the reference`, async () => {
      // 300 positions: windows [0, 256) fed [0, 257) and [256, 300); the joined rows must be the reference's.
      const long = Array.from({ length: 300 }, (_, i) => (i === 0 ? 50256 : 100 + ((i * 7919) % 40000)));
      const n = long.length;
      const run = referenceRun(cfg, ref[mode]!.w, long);
      const model = engine[mode]!;
      const K = 3;
      const a = (await model.readout(long, [lossAndTopK(K), residualNorms()])).get('lossAndTopK')!;
      const V = cfg.d_vocab;
      const L = run.logits.data;
      // 300 rows of 50,257 random-weight logits hold float32 near-ties, so ids and ranks are
      // checked up to them: a returned top id must have the reference probability the engine gave
      // it, and a rank must lie between the counts of logits above x + tol and above x - tol
      // (tol = 1e-5 × the row's largest |logit|, the hooks' tolerance).
      const gotIds = ints(a, 'topIds');
      const gotRank = ints(a, 'nextRank');
      const loss: number[] = [];
      const topP: number[] = [];
      const idP: number[] = [];
      for (let p = 0; p < n; p++) {
        const { lse, max } = rowStats(L, p * V, V);
        const order = Array.from({ length: V }, (_, v) => v).sort((x, y) => L[p * V + y]! - L[p * V + x]! || x - y);
        for (let k = 0; k < K; k++) {
          topP.push(Math.exp(L[p * V + order[k]!]! - lse));
          idP.push(Math.exp(L[p * V + gotIds[p * K + k]!]! - lse));
        }
        if (p + 1 < n) {
          const x = L[p * V + long[p + 1]!]!;
          loss.push(lse - x);
          let big = 0;
          for (let v = 0; v < V; v++) big = Math.max(big, Math.abs(L[p * V + v]!));
          const tol = 1e-5 * Math.max(big, Math.abs(max));
          let above = 0;
          let aboveLoose = 0;
          for (let v = 0; v < V; v++) {
            if (L[p * V + v]! > x + tol) above++;
            if (L[p * V + v]! > x - tol) aboveLoose++;
          }
          const r = gotRank[p]!;
          assert.ok(r >= above + 1 && r <= aboveLoose + 1, `rank at ${p}: ${r} outside [${above + 1}, ${aboveLoose + 1}]`);
        }
      }
      assert.deepEqual(a['loss']!.dims, [1, n, 1]);
      near(floats(a, 'loss').slice(0, n - 1), loss, 'windowed loss');
      near(floats(a, 'topProbs'), topP, 'windowed topProbs');
      near(floats(a, 'topProbs'), idP, 'the reference probabilities of the returned top ids');
      // The mean next-token loss (the sweeps' metric), windowed too: each window's mean weighted by what it predicted.
      const m = (await model.readout(long, [metric({ kind: 'loss' }, V)])).get('metric:loss')!;
      near(floats(m, 'metric'), [loss.reduce((x, y) => x + y, 0) / loss.length], 'windowed mean loss');
    });
  }

  it("TransformerLens 2.x hooks (no unembed.hook_in): the windows hold ln_final.hook_normalized and equal the full run's loss", async () => {
    const model = await HookedGPT2.fromPretrained(join(dir, 'untied'), { transformerLensVersion: '2.x', processing: false, threads: 1 });
    try {
      const long = Array.from({ length: 290 }, (_, i) => (i === 0 ? 50256 : 500 + ((i * 7919) % 30000)));
      const a = (await model.readout(long, [lossAndTopK(1)])).get('lossAndTopK')!;
      const { logits } = await model.runWithCache(long, { names: [] });
      const V = cfg.d_vocab;
      const want = Array.from({ length: long.length - 1 }, (_, p) => {
        const row = Float64Array.from(logits.data.subarray(p * V, (p + 1) * V));
        return rowStats(row, 0, V).lse - row[long[p + 1]!]!;
      });
      near(floats(a, 'loss').slice(0, long.length - 1), want, '2.x windowed loss');
    } finally {
      await model.dispose();
    }
  });

  it('run() over more than 256 positions (unembedded in windows) returns what one forward does, for one prompt and a padded batch', async () => {
    const long = Array.from({ length: 300 }, (_, i) => (i === 0 ? 50256 : 100 + ((i * 7919) % 20000)));
    const model = engine.processed!;
    const a = await model.run(long);
    const { logits } = await model.forward(long);
    assert.deepEqual(a.dims, logits.dims);
    // The same rows through the same Gemm, fewer at a time: equal up to float32 rounding.
    assert.ok(maxAbsDiff(a.data, logits.data) <= 1e-5, `max |run - forward| ${maxAbsDiff(a.data, logits.data)}`);
    const batch = [long, long.slice(0, 280)];
    const b = await model.run(batch);
    const f = await model.forward(batch);
    assert.deepEqual(b.dims, f.logits.dims);
    const V = model.cfg.d_vocab_out;
    for (const [i, n] of [300, 280].entries()) {
      const rows = (t: Float32Array): Float32Array => t.subarray(i * 300 * V, (i * 300 + n) * V); // real positions only
      assert.ok(maxAbsDiff(rows(b.data), rows(f.logits.data)) <= 1e-5, `prompt ${i}`);
    }
  });

  it('over more than 256 positions, an intervention reaches the windowed loss as it reaches the full run', async () => {
    const model = engine.processed!;
    const long = Array.from({ length: 270 }, (_, i) => (i === 0 ? 50256 : 300 + ((i * 104729) % 30000)));
    const interventions = [{ kind: 'ablateHeads' as const, layer: 1, heads: [0, 3] }];
    const a = (await model.readout(long, [lossAndTopK(1)], { interventions })).get('lossAndTopK')!;
    const { logits } = await model.runWithInterventions(long, interventions);
    const V = cfg.d_vocab;
    const want = Array.from({ length: long.length - 1 }, (_, p) => {
      const row = Float64Array.from(logits.data.subarray(p * V, (p + 1) * V));
      return rowStats(row, 0, V).lse - row[long[p + 1]!]!;
    });
    near(floats(a, 'loss').slice(0, long.length - 1), want, 'ablated windowed loss');
    const clean = (await model.readout(long, [lossAndTopK(1)])).get('lossAndTopK')!;
    assert.ok(relErr(floats(clean, 'loss').slice(0, long.length - 1), want) > 1e-4, 'the ablation must change the loss');
  });

  it('an intervention changes a readout exactly as it changes the full run (ablated head, loss)', async () => {
    const model = engine.processed!;
    const interventions = [{ kind: 'ablateHeads' as const, layer: 0, heads: [1] }];
    const a = (await model.readout(TOKENS, [lossAndTopK(1)], { interventions })).get('lossAndTopK')!;
    const { logits } = await model.runWithInterventions(TOKENS, interventions);
    const V = cfg.d_vocab;
    const want = Array.from({ length: P - 1 }, (_, p) => {
      const row = Float64Array.from(logits.data.subarray(p * V, (p + 1) * V));
      return rowStats(row, 0, V).lse - row[TOKENS[p + 1]!]!;
    });
    near(floats(a, 'loss').slice(0, P - 1), want, 'ablated loss');
    const clean = (await model.readout(TOKENS, [lossAndTopK(1)])).get('lossAndTopK')!;
    assert.ok(relErr(floats(clean, 'loss').slice(0, P - 1), want) > 1e-4, 'the ablation must change the loss');
  });

  it("a head pattern and a layer's neurons from the held resid_pre run that layer alone, interventions in it included", async () => {
    const model = engine.raw!;
    const rp = 'blocks.1.hook_resid_pre';
    const questions = [headPattern(1, 2), topNeurons(1, 6, 3, 9, null)];
    // Changes inside layer 1, after its resid_pre: the held copy cannot carry them, the graph must.
    const inLayer: Intervention[] = [
      {
        kind: 'patch',
        hook: 'blocks.1.attn.hook_q',
        source: { dims: [1, P, cfg.n_heads, cfg.d_head], data: new Float32Array(P * cfg.n_heads * cfg.d_head) },
        positions: [4],
      },
      { kind: 'ablateNeurons', layer: 1, neurons: [0, 1, 2, 3, 4, 5, 6, 7] },
    ];
    for (const interventions of [[], inLayer]) {
      const full = await model.readout(TOKENS, questions, { interventions });
      const fromHeld = await model.readout(TOKENS, questions, { interventions, held: await holdHooks(model, [rp], interventions) });
      for (const q of questions)
        for (const [name, t] of Object.entries(full.get(q.key)!)) {
          const got = fromHeld.get(q.key)![name]!;
          if (t.data instanceof BigInt64Array)
            assert.deepEqual(ints(fromHeld.get(q.key)!, name), Array.from(t.data, Number), `${q.key} ${name}`);
          else near(got.data as Float32Array, t.data, `${q.key} ${name} from held resid_pre`);
        }
    }
    const clean = await model.readout(TOKENS, questions);
    const ablated = await model.readout(TOKENS, questions, { interventions: inLayer, held: await holdHooks(model, [rp], inLayer) });
    assert.ok(
      relErr(floats(ablated.get('headPattern.1')!, 'pattern'), floats(clean.get('headPattern.1')!, 'pattern')) > 1e-3,
      'the q patch reaches the pattern',
    );
    assert.notDeepEqual(
      ints(ablated.get('topNeurons.1')!, 'ids'),
      ints(clean.get('topNeurons.1')!, 'ids'),
      'the ablation reaches the neurons',
    );
    // The held copy is what the graph reads: a changed copy changes the answer.
    const heldCopy = await holdHooks(model, [rp]);
    const x = heldCopy.get(rp)!;
    const scaled = new Map([[rp, { dims: x.dims, data: x.data.map((v, i) => v * (1 + (i % 7) / 10)) }]]);
    const moved = await model.readout(TOKENS, [headPattern(1, 2)], { held: scaled });
    assert.ok(
      relErr(floats(moved.get('headPattern.1')!, 'pattern'), floats(clean.get('headPattern.1')!, 'pattern')) > 1e-3,
      'read from the held copy',
    );
  });

  it('a readout answers only what it asks: no hook point is a session output', async () => {
    const model = engine.raw!;
    const answers = await model.readout(TOKENS, [headPattern(0, 1)]);
    assert.deepEqual(Object.keys(answers.get('headPattern.0')!), ['pattern']);
    assert.deepEqual(answers.get('headPattern.0')!.pattern!.dims, [1, 1, P, P]);
    await assert.rejects(model.readout(TOKENS, [headPattern(0, 1), headPattern(0, 2)]), /asked twice/);
  });
});
