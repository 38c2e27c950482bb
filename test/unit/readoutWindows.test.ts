// The arithmetic of answering a long prompt's next-token readouts in windows of positions
// (src/engine/readoutWindows.ts): where the windows fall, what each is fed, how answers join.
// The windows' answers themselves are checked against the float64 reference in readouts.test.ts.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { positionWindows, slicePositions, WindowJoin, type WindowAnswers } from '../../src/engine/readoutWindows';
import type { Readout, ReadoutAnswer } from '../../src/engine/readouts';

const readout = (key: string, windows: 'rows' | 'meanNext'): Readout => ({ key, params: {}, windows, emit: () => undefined });

describe('readout windows', () => {
  it('cover every position once, feed one more position than they answer, and never end on a lone position', () => {
    assert.deepEqual(positionWindows(300, 128), [
      { from: 0, to: 128, fedTo: 129 },
      { from: 128, to: 256, fedTo: 257 },
      { from: 256, to: 300, fedTo: 300 },
    ]);
    assert.deepEqual(positionWindows(257, 128), [
      { from: 0, to: 128, fedTo: 129 },
      { from: 128, to: 257, fedTo: 257 }, // 129 answered: a window [256, 257) would predict nothing
    ]);
    assert.deepEqual(positionWindows(256, 128), [
      { from: 0, to: 128, fedTo: 129 },
      { from: 128, to: 256, fedTo: 256 },
    ]);
    assert.deepEqual(positionWindows(5, 128), [{ from: 0, to: 5, fedTo: 5 }]);
  });

  it('slice positions of every batch entry, without a copy for one entry', () => {
    const data = Float32Array.from({ length: 2 * 4 * 3 }, (_, i) => i); // [2, 4, 3]
    const two = slicePositions(data, [2, 4, 3], 1, 3);
    assert.deepEqual(two.dims, [2, 2, 3]);
    assert.deepEqual([...two.data], [3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20]);
    const one = slicePositions(data.subarray(0, 12), [1, 4, 3], 2, 4);
    assert.deepEqual([...one.data], [6, 7, 8, 9, 10, 11]);
    assert.equal(one.data.buffer, data.buffer);
  });

  it("join rows along positions (dropping each window's extra fed row) and weight means by what each window predicted", () => {
    const windows = positionWindows(5, 2); // [0, 2) fed [0, 3); [2, 5) fed [2, 5)
    assert.deepEqual(windows, [
      { from: 0, to: 2, fedTo: 3 },
      { from: 2, to: 5, fedTo: 5 },
    ]);
    const rows = readout('rows', 'rows');
    const mean = readout('mean', 'meanNext');
    // Each window answers a 'rows' readout for 2 prompts × 3 fed positions and a 'meanNext' one (2 positions predicted each).
    const part = (k: number, v: number[], id: bigint[], metric: number[]): WindowAnswers => ({
      window: windows[k]!,
      answers: new Map<string, ReadoutAnswer>([
        ['rows', { v: { dims: [2, 3, 1], data: Float32Array.from(v) }, id: { dims: [2, 3], data: BigInt64Array.from(id) } }],
        ['mean', { metric: { dims: [2], data: Float32Array.from(metric) } }],
      ]),
    });
    const parts = [
      part(0, [0, 1, 99, 10, 11, 99], [0n, 1n, 9n, 5n, 6n, 9n], [1, 2]),
      part(1, [2, 3, 4, 12, 13, 14], [2n, 3n, 4n, 7n, 8n, 9n], [4, 8]),
    ];
    const join = new WindowJoin([rows, mean], 5);
    for (const p of parts) join.add(p);
    const joined = join.result();
    assert.deepEqual(joined.get('rows')!['v']!.dims, [2, 5, 1]);
    assert.deepEqual([...joined.get('rows')!['v']!.data], [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
    assert.deepEqual([...joined.get('rows')!['id']!.data], [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n]);
    assert.deepEqual([...joined.get('mean')!['metric']!.data], [2.5, 5]);
  });
});

describe('readouts ordered before the forward goes on (orderBefore)', () => {
  it("each layer's pattern is pooled for the thumbnails before the next layer starts, values unchanged", async () => {
    const { buildModelGraph } = await import('../../src/engine/graph');
    const { thumbnails } = await import('../../kernels/readouts/thumbnails');
    const { randomWeights, tinyConfig } = await import('./helpers/engineFixtures');
    const cfg = tinyConfig();
    const { graph } = buildModelGraph(cfg, randomWeights(cfg, 3), new Map(), 'all', { readouts: [thumbnails(4)] });
    const producer = (t: string): number => graph.nodes.findIndex((n) => n.outputs.includes(t));
    for (let l = 0; l + 1 < cfg.n_layers; l++) {
      const pool = graph.nodes.findIndex((n) => n.op === 'MatMul' && n.inputs.includes(`blocks.${l}.attn.hook_pattern`));
      const next = producer(`blocks.${l + 1}.hook_resid_pre`);
      assert.ok(pool >= 0 && next >= 0, `layer ${l}: pooling and the next resid_pre are in the graph`);
      assert.ok(pool < next, `layer ${l}'s pattern is pooled (node ${pool}) before layer ${l + 1} starts (node ${next})`);
      // And the graph runs layer l+1 only after the pooled value exists (a data dependency, not just node order).
      const hook = graph.nodes[next]!;
      assert.match(hook.inputs[0]!, /^order\//);
    }
    // Every node after the producers of its inputs (ONNX's rule).
    const seen = new Set([...graph.inputs.map((v) => v.name), ...graph.initializers.keys()]);
    for (const n of graph.nodes) {
      for (const i of n.inputs) assert.ok(i === '' || seen.has(i), `${n.name} reads '${i}' before it is made`);
      n.outputs.forEach((o) => seen.add(o));
    }
  });
});
