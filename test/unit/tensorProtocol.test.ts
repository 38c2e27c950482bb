// The tensor view's message schemas (src/protocol/tensor.ts): what each side accepts, and the
// malformed or oversized messages it refuses, naming the field.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validateEnvelope } from '../../src/protocol/envelope';
import { MAX_WINDOW_ROWS, tensorHostSchemas, tensorWebviewSchemas } from '../../src/protocol/tensor';

const slice = { type: 'tensor/slice', rowAxis: 0, colAxis: 2, index: [0, 3, 0], rowFrom: 0, rowCount: 16, colFrom: 0, colCount: 64 };
const stats = { count: 4, nan: 1, posInf: 0, negInf: 0, min: -1, max: 2, mean: 0.5, std: 1.2 };
const show = {
  type: 'tensor/show',
  title: 'blocks.0.attn.W_Q',
  origin: 'demo',
  dtype: 'F32',
  dims: [4, 64, 16],
  axisNames: ['head_index', 'd_model', 'd_head'],
  vocabAxis: null,
  stats,
  histLo: -1,
  histHi: 2,
  histCounts: Uint32Array.of(1, 2, 0),
  canExport: true,
};

describe('tensor view protocol', () => {
  it('accepts a slice request, a slice reply and a description', () => {
    assert.equal(validateEnvelope({ id: 1, body: slice }, tensorWebviewSchemas).body.type, 'tensor/slice');
    assert.equal(validateEnvelope({ id: 1, body: { ...slice, rowAxis: null } }, tensorWebviewSchemas).body.type, 'tensor/slice');
    const reply = {
      type: 'tensor/sliceData',
      rowFrom: 0,
      rows: 1,
      colFrom: 0,
      cols: 2,
      totalRows: 1,
      totalCols: 2,
      data: Float32Array.of(1, NaN),
      rowTokens: [],
      colTokens: ['a', 'b'],
    };
    assert.equal(validateEnvelope({ id: 2, inReplyTo: 1, body: reply }, tensorHostSchemas).body.type, 'tensor/sliceData');
    assert.equal(validateEnvelope({ id: 3, body: show }, tensorHostSchemas).body.type, 'tensor/show');
    // Statistics of a tensor with no finite value are null, not NaN.
    const empty = { ...stats, min: null, max: null, mean: null, std: null };
    assert.equal(validateEnvelope({ id: 4, body: { ...show, stats: empty } }, tensorHostSchemas).body.type, 'tensor/show');
  });

  it('refuses oversized windows, negative or fractional indices, JSON number arrays and NaN statistics', () => {
    const cases: [unknown, typeof tensorHostSchemas | typeof tensorWebviewSchemas, RegExp][] = [
      [{ ...slice, rowCount: MAX_WINDOW_ROWS + 1 }, tensorWebviewSchemas, /rowCount/],
      [{ ...slice, index: [0, -1, 0] }, tensorWebviewSchemas, /index/],
      [{ ...slice, colAxis: 1.5 }, tensorWebviewSchemas, /colAxis/],
      [{ type: 'tensor/rank', index: [0], k: 1000 }, tensorWebviewSchemas, /field k/],
      [{ ...show, histCounts: [1, 2] }, tensorHostSchemas, /histCounts/],
      [{ ...show, stats: { ...stats, mean: NaN } }, tensorHostSchemas, /stats/],
      [{ type: 'tensor/rendered', rows: 1, cols: 1, index: 'x' }, tensorWebviewSchemas, /index/],
    ];
    for (const [body, table, re] of cases) assert.throws(() => validateEnvelope({ id: 1, body }, table as never), re);
  });
});
