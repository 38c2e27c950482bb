// The tensor view's computations (src/engine/inspect/tensorMath.ts) against direct float64
// computations, and the worker's tensor requests (src/engine/worker/tensorOps.ts) through the real
// EngineClient and worker thread on the tiny GPT-2, in both processing modes: statistics and
// histograms of weights, file tensors and hook activations, 2-D windows of slices, tokens ranked
// along a vocabulary axis, one head's OV/QK circuit, and nearest tokens by cosine in W_E and W_U.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadCheckpoint } from '../../src/engine/checkpoint/load';
import { circuitSvd } from '../../src/engine/inspect/circuitSvd';
import { axisNamesFor, vocabAxisOf } from '../../src/engine/inspect/axisNames';
import { cosineToAll, histogram, rankAlong, slice2d, strides, tensorStats } from '../../src/engine/inspect/tensorMath';
import { processWeights, resolveProcessing } from '../../src/engine/processing';
import { readSafetensors } from '../../src/engine/safetensors/read';
import { generateTinyGpt2 } from '../../src/engine/tinyGpt2';
import type { GPT2Weights, Tensor } from '../../src/engine/types';
import { EngineClient } from '../../src/engine/worker/engineClient';
import { seededRandom } from '../support/random';

const WORKER = join(__dirname, 'helpers/engineWorker.ts.cjs');
const TOKENS = Int32Array.from([50256, 464, 2068, 7586, 21831, 625]);

/** mean, unbiased std, min, max of the finite values, in float64, written out plainly. */
function direct(data: Float32Array): { mean: number; std: number; min: number; max: number; finite: number } {
  const xs = [...data].filter(Number.isFinite);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { mean, std, min: Math.min(...xs.slice(0, 100_000)), max: Math.max(...xs.slice(0, 100_000)), finite: xs.length };
}

function close(a: number, b: number, tol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

/** Cosine of token rows (or columns) a and b of a matrix, float64, element by element. */
function cosine(m: Tensor, tokensOnRows: boolean, a: number, b: number): number {
  const [r, c] = m.dims as [number, number];
  const d = tokensOnRows ? c : r;
  const at = (v: number, j: number): number => (tokensOnRows ? m.data[v * c + j]! : m.data[j * c + v]!);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let j = 0; j < d; j++) {
    dot += at(a, j) * at(b, j);
    na += at(a, j) ** 2;
    nb += at(b, j) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

describe('tensor math', () => {
  it('statistics and NaN/Inf counts equal a float64 computation; the histogram holds every finite value', () => {
    const rand = seededRandom(7);
    const data = Float32Array.from({ length: 10_007 }, () => (rand() - 0.3) * 5);
    data[3] = NaN;
    data[50] = Infinity;
    data[51] = -Infinity;
    data[52] = -Infinity;
    const s = tensorStats(data);
    const d = direct(data);
    assert.deepEqual([s.count, s.nan, s.posInf, s.negInf], [10_007, 1, 1, 2]);
    close(s.mean, d.mean, 1e-12, 'mean');
    close(s.std, d.std, 1e-12, 'std');
    assert.equal(s.min, d.min);
    assert.equal(s.max, d.max);
    const h = histogram(data, s, 32);
    assert.equal(
      h.counts.reduce((a, b) => a + b, 0),
      d.finite,
    );
    // The bin of the maximum is the last one, the minimum's the first.
    assert.ok(h.counts[0]! > 0 && h.counts[31]! > 0);
  });

  it('a constant tensor has one filled bin and std 0; an all-NaN tensor has no finite statistics', () => {
    const s = tensorStats(new Float32Array(10).fill(2));
    assert.equal(s.std, 0);
    assert.equal(histogram(new Float32Array(10).fill(2), s, 8).counts[0], 10);
    const n = tensorStats(new Float32Array(3).fill(NaN));
    assert.ok(Number.isNaN(n.mean) && Number.isNaN(n.min) && n.nan === 3);
  });

  it('a 2-D window of any slice of a rank-4 tensor equals direct indexing, axes in either order', () => {
    const dims = [2, 5, 3, 7];
    const rand = seededRandom(3);
    const t: Tensor = { dims, data: Float32Array.from({ length: 210 }, () => rand()) };
    const st = strides(dims);
    const at = (i: number[]): number => t.data[i.reduce((a, v, k) => a + v * st[k]!, 0)]!;
    for (const [rowAxis, colAxis] of [
      [1, 3],
      [3, 1],
      [0, 2],
    ] as const) {
      const index = [1, 2, 1, 4];
      const s = slice2d(t, { rowAxis, colAxis, index, rowFrom: 1, rowCount: 3, colFrom: 1, colCount: 100 });
      assert.equal(s.totalRows, dims[rowAxis]);
      assert.equal(s.cols, dims[colAxis]! - 1);
      for (let r = 0; r < s.rows; r++)
        for (let c = 0; c < s.cols; c++) {
          const i = [...index];
          i[rowAxis] = s.rowFrom + r;
          i[colAxis] = s.colFrom + c;
          assert.equal(s.data[r * s.cols + c], at(i));
        }
    }
    assert.throws(
      () => slice2d(t, { rowAxis: 1, colAxis: 1, index: [0, 0, 0, 0], rowFrom: 0, rowCount: 1, colFrom: 0, colCount: 1 }),
      /both 1/,
    );
    assert.throws(
      () => slice2d(t, { rowAxis: 1, colAxis: 3, index: [2, 0, 0, 0], rowFrom: 0, rowCount: 1, colFrom: 0, colCount: 1 }),
      /axis 0/,
    );
  });

  it('ranks tokens along a vocabulary axis, largest and smallest first', () => {
    // [d_model 2, d_vocab 5]: row 1 is the direction asked for.
    const t: Tensor = { dims: [2, 5], data: Float32Array.from([0, 0, 0, 0, 0, 3, -1, 9, NaN, 2]) };
    const r = rankAlong(t, 1, [1, 0], 2);
    assert.deepEqual([...r.topIds], [2, 0]);
    assert.deepEqual([...r.bottomIds], [1, 4]);
    assert.deepEqual([...r.topValues], [9, 3]);
  });

  it('axis names come from the hook table and parameter list; the vocabulary axis is found', () => {
    assert.deepEqual(axisNamesFor('blocks.7.attn.hook_q', 4), ['batch', 'pos', 'head_index', 'd_head']);
    assert.deepEqual(axisNamesFor('blocks.11.attn.hook_pattern', 4), ['batch', 'head_index', 'query_pos', 'key_pos']);
    assert.deepEqual(axisNamesFor('embed.W_E', 2), ['d_vocab', 'd_model']);
    assert.deepEqual(axisNamesFor('unembed.W_U', 2), ['d_model', 'd_vocab_out']);
    assert.deepEqual(axisNamesFor('transformer.h.0.attn.c_attn.weight', 2), ['dim0', 'dim1']);
    assert.deepEqual(axisNamesFor('blocks.0.attn.hook_q', 3), ['dim0', 'dim1', 'dim2']);
    assert.equal(vocabAxisOf(['d_model', 'd_vocab_out']), 1);
    assert.equal(vocabAxisOf(['batch', 'pos']), null);
  });
});

describe('tensor requests in the engine worker', { timeout: 120_000 }, () => {
  let dir: string;
  let client: EngineClient;
  let files: EngineClient;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'model-lens-tensor-'));
    await generateTinyGpt2(dir, { seed: 5 });
    client = new EngineClient({ workerPath: WORKER });
    files = new EngineClient({ workerPath: WORKER });
  });
  after(async () => {
    await client.dispose();
    await files.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("opens a file's tensor with no model loaded: dtype, shape, statistics equal to reading it directly", async () => {
    const path = join(dir, 'model.safetensors');
    const file = await readSafetensors(path);
    const name = file.names().find((n) => n.endsWith('wte.weight'))!;
    const expected = await file.getTensor(name);
    const opened = await files.tensor({ op: 'open', source: { kind: 'file', path, name }, bins: 40 });
    assert.deepEqual(opened.dims, expected.dims);
    assert.equal(opened.dtype, 'F32');
    assert.deepEqual(opened.axisNames, ['dim0', 'dim1']);
    const d = direct(expected.data);
    close(opened.stats.mean, d.mean, 1e-9, 'mean');
    close(opened.stats.std, d.std, 1e-9, 'std');
    assert.equal(opened.histogram.counts.length, 40);
    assert.equal(
      opened.histogram.counts.reduce((a, b) => a + b, 0),
      expected.data.length,
    );
    // Only the asked window crosses.
    const s = await files.tensor({
      op: 'slice',
      key: opened.key,
      rowAxis: 0,
      colAxis: 1,
      index: [0, 0],
      rowFrom: 100,
      rowCount: 4,
      colFrom: 0,
      colCount: 8,
    });
    assert.equal(s.data.length, 32);
    assert.equal(s.data[9], expected.data[101 * expected.dims[1]! + 1]);
    await assert.rejects(files.tensor({ op: 'open', source: { kind: 'file', path, name: 'nope' }, bins: 8 }), /no tensor named "nope"/);
  });

  for (const processing of [true, false]) {
    describe(processing ? 'processed (from_pretrained)' : 'unprocessed (from_pretrained_no_processing)', () => {
      let weights: GPT2Weights;
      before(async () => {
        await client.load(dir, { threads: 1, processing });
        const ck = await loadCheckpoint(dir);
        weights = processWeights(ck.cfg, ck.weights, resolveProcessing({ processing })).weights;
      });

      it('a weight opens with its TransformerLens axis names and the statistics of the processed array', async () => {
        const opened = await client.tensor({ op: 'open', source: { kind: 'weight', name: 'blocks.1.mlp.W_in' }, bins: 16 });
        assert.deepEqual(opened.axisNames, ['d_model', 'd_mlp']);
        const d = direct(weights.blocks[1]!.W_in.data);
        close(opened.stats.mean, d.mean, 1e-9, 'mean');
        close(opened.stats.std, d.std, 1e-9, 'std');
        const wu = await client.tensor({ op: 'open', source: { kind: 'weight', name: 'unembed.W_U' }, bins: 16 });
        assert.equal(wu.vocabAxis, 1);
        const ranked = await client.tensor({ op: 'rank', key: wu.key, vocabAxis: 1, index: [3, 0], k: 5 });
        const row = weights.W_U.data.subarray(3 * 50257, 4 * 50257);
        const best = [...row.keys()].sort((a, b) => row[b]! - row[a]! || a - b).slice(0, 5);
        assert.deepEqual([...ranked.topIds], best);
      });

      it("one head's OV circuit equals W_V[h] @ W_O[h] in float64", async () => {
        const opened = await client.tensor({ op: 'open', source: { kind: 'circuit', which: 'OV', layer: 1, head: 2 }, bins: 16 });
        const [, d, dh] = weights.blocks[1]!.W_V.dims as [number, number, number];
        assert.deepEqual(opened.dims, [d, d]);
        const s = await client.tensor({
          op: 'slice',
          key: opened.key,
          rowAxis: 0,
          colAxis: 1,
          index: [0, 0],
          rowFrom: 0,
          rowCount: d,
          colFrom: 0,
          colCount: d,
        });
        const V = weights.blocks[1]!.W_V.data;
        const O = weights.blocks[1]!.W_O.data;
        let worst = 0;
        for (const [i, j] of [
          [0, 0],
          [5, 9],
          [d - 1, d - 2],
        ] as const) {
          let ref = 0;
          for (let k = 0; k < dh; k++) ref += V[(2 * d + i) * dh + k]! * O[(2 * dh + k) * d + j]!;
          worst = Math.max(worst, Math.abs(s.data[i * d + j]! - ref));
        }
        assert.ok(worst < 1e-5, `max abs diff ${worst}`);
      });

      it("a head's OV and QK singular directions: σ and the tokens at each end equal the engine's SVD and a direct sort", async () => {
        for (const which of ['OV', 'QK'] as const) {
          const r = await client.tensor({ op: 'directions', which, layer: 1, head: 2, k: 3, tokens: 6 });
          const b = weights.blocks[1]!;
          const ref = which === 'OV' ? circuitSvd('OV', b.W_V, b.W_O, 2, 3) : circuitSvd('QK', b.W_Q, b.W_K, 2, 3);
          assert.equal(r.tokens, 6);
          assert.deepEqual([...r.sigma], [...ref.sigma]);
          for (let i = 0; i < 3; i++) {
            const sortBy = (m: Tensor, rows: boolean, dir: Float64Array, sign: 1 | -1): number[] => {
              const [nr, nc] = m.dims as [number, number];
              const n = rows ? nr : nc;
              const d = rows ? nc : nr;
              const score = Array.from({ length: n }, (_, v) => {
                let s = 0;
                for (let j = 0; j < d; j++) s += (rows ? m.data[v * nc + j]! : m.data[j * nc + v]!) * dir[j]!;
                return Math.fround(s);
              });
              return [...score.keys()].sort((x, y) => sign * (score[y]! - score[x]!) || x - y).slice(0, 6);
            };
            const out: [Tensor, boolean] = which === 'OV' ? [weights.W_U, false] : [weights.W_E, true];
            assert.deepEqual([...r.inputTopIds.subarray(i * 6, i * 6 + 6)], sortBy(weights.W_E, true, ref.left[i]!, 1));
            assert.deepEqual([...r.inputBottomIds.subarray(i * 6, i * 6 + 6)], sortBy(weights.W_E, true, ref.left[i]!, -1));
            assert.deepEqual([...r.outputTopIds.subarray(i * 6, i * 6 + 6)], sortBy(...out, ref.right[i]!, 1));
            assert.deepEqual([...r.outputBottomIds.subarray(i * 6, i * 6 + 6)], sortBy(...out, ref.right[i]!, -1));
          }
        }
        await assert.rejects(
          client.tensor({ op: 'directions', which: 'OV', layer: 9, head: 0, k: 2, tokens: 3 }),
          /layer 9 is out of range/,
        );
      });

      it('a hook opens for tokens with its shape and axis names', async () => {
        const opened = await client.tensor({
          op: 'open',
          source: { kind: 'hook', name: 'blocks.0.attn.hook_q', tokens: TOKENS },
          bins: 16,
        });
        assert.deepEqual(opened.axisNames, ['batch', 'pos', 'head_index', 'd_head']);
        assert.equal(opened.dims[1], TOKENS.length);
        assert.equal(opened.stats.nan, 0);
        const ref = await client.run(TOKENS, { names: ['blocks.0.attn.hook_q'] });
        close(opened.stats.mean, direct(ref.activations.get('blocks.0.attn.hook_q')!.data).mean, 1e-9, 'mean');
        await assert.rejects(
          client.tensor({ op: 'open', source: { kind: 'hook', name: 'blocks.0.attn.hook_result', tokens: TOKENS }, bins: 4 }),
          /does not fire/,
        );
      });

      it('nearest tokens by cosine in W_E and W_U equal a direct float64 computation', async () => {
        for (const matrix of ['W_E', 'W_U'] as const) {
          const m = matrix === 'W_E' ? weights.W_E : weights.W_U;
          const near = await client.tensor({ op: 'nearest', matrix, token: 2068, k: 10 });
          assert.equal(near.ids.length, 10);
          assert.ok(!near.ids.includes(2068));
          for (let i = 0; i < 10; i++) close(near.cos[i]!, cosine(m, matrix === 'W_E', 2068, near.ids[i]!), 1e-5, `${matrix} cos ${i}`);
          // Nothing outside the list is nearer than its last entry.
          const all = cosineToAll(m, matrix === 'W_E', 2068);
          all[2068] = -Infinity;
          const beyond = [...all].filter((_, v) => !near.ids.includes(v));
          assert.ok(Math.max(...beyond.slice(0, 60_000)) <= near.cos[9]! + 1e-6);
        }
      });
    });
  }

  it('reports the process memory, and a released key is refused by name', async () => {
    const mem = await client.tensor({ op: 'memory' });
    assert.ok(mem.rss > mem.heapUsed && mem.heapUsed > 0);
    const opened = await client.tensor({ op: 'open', source: { kind: 'weight', name: 'embed.W_E' }, bins: 8 });
    await client.tensor({ op: 'release', key: opened.key });
    await assert.rejects(
      client.tensor({
        op: 'slice',
        key: opened.key,
        rowAxis: 0,
        colAxis: 1,
        index: [0, 0],
        rowFrom: 0,
        rowCount: 1,
        colFrom: 0,
        colCount: 1,
      }),
      (e: Error) => e.name === 'TensorNotHeldError',
    );
  });
});
