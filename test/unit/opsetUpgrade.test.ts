/**
 * onnx/opsetUpgrade.ts in a real onnxruntime session: a graph written for opset 17, raised to 26
 * (as bfloat16's BitCast decode needs: weightInputs.ts), computes the same values. Both bfloat16
 * decodes' exactness is checked in weightDtype.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeModel } from '../../src/engine/onnx/encode';
import type { GraphIR } from '../../src/engine/onnx/ir';
import { atOpset } from '../../src/engine/onnx/opsetUpgrade';
import { createSession, type HostTensor } from '../../src/engine/ort/session';

describe('a graph raised to a later opset (onnx/opsetUpgrade.ts)', () => {
  it("a graph raised to opset 26 moves reductions' axes to inputs and computes the same values", async () => {
    const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * (i + 1));
    const g: GraphIR = {
      name: 'reductions',
      nodes: [
        { op: 'ReduceMean', name: 'mean', inputs: ['x'], outputs: ['m'], attrs: { axes: { ints: [-1] }, keepdims: { i: 1 } } },
        { op: 'ReduceMax', name: 'max', inputs: ['x'], outputs: ['M'], attrs: { axes: { ints: [0, 2] }, keepdims: { i: 0 } } },
        { op: 'ReduceLogSumExp', name: 'lse', inputs: ['x'], outputs: ['L'], attrs: { axes: { ints: [1] }, keepdims: { i: 1 } } },
      ],
      initializers: new Map(),
      inputs: [{ name: 'x', type: 'float32', dims: [2, 3, 4] }],
      outputs: [
        { name: 'm', type: 'float32', dims: null },
        { name: 'M', type: 'float32', dims: null },
        { name: 'L', type: 'float32', dims: null },
      ],
      types: new Map([
        ['x', 'float32'],
        ['m', 'float32'],
        ['M', 'float32'],
        ['L', 'float32'],
      ]),
    };
    const raised = atOpset(g, 26);
    assert.deepEqual(
      raised.nodes.map((n) => [n.inputs.length, Object.keys(n.attrs ?? {}).sort()]),
      [
        [2, ['keepdims']],
        [2, ['keepdims']],
        [2, ['keepdims']],
      ],
    );
    const run = async (graph: GraphIR): Promise<Float32Array[]> => {
      const { session } = await createSession(encodeModel(graph), { device: 'cpu' });
      try {
        const out = await session.run({ x: { type: 'float32', dims: [2, 3, 4], data: x } }, ['m', 'M', 'L']);
        return ['m', 'M', 'L'].map((k) => (out[k] as HostTensor).data as Float32Array);
      } finally {
        await session.release();
      }
    };
    const [at17, at26] = [await run(g), await run(raised)];
    assert.deepEqual(
      at26.map((a) => a.length),
      [6, 3, 8],
    );
    assert.deepEqual(at26, at17);
  });
});
