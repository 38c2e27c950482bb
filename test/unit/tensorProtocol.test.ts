// The tensor view's message schemas (src/protocol/tensor.ts): what each side accepts, and the
// malformed or oversized messages it refuses, naming the field.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validateEnvelope } from '../../src/protocol/envelope';
import { MAX_DIRECTIONS, MAX_WINDOW_ROWS, tensorHostSchemas, tensorWebviewSchemas } from '../../src/protocol/tensor';

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
  circuit: null,
};

const tok = { id: 464, text: ' The', value: 0.25 };
const direction = { sigma: 3.5, inputTop: [tok], inputBottom: [tok], outputTop: [tok], outputBottom: [] };
const directions = { type: 'tensor/directionsData', which: 'OV', directions: [direction] };

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

  it("accepts a circuit's description, a directions request and its reply", () => {
    assert.equal(validateEnvelope({ id: 1, body: { ...show, circuit: 'OV' } }, tensorHostSchemas).body.type, 'tensor/show');
    assert.equal(
      validateEnvelope({ id: 1, body: { type: 'tensor/directions', k: 8, tokens: 10 } }, tensorWebviewSchemas).body.type,
      'tensor/directions',
    );
    assert.equal(validateEnvelope({ id: 2, inReplyTo: 1, body: directions }, tensorHostSchemas).body.type, 'tensor/directionsData');
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
      [{ ...show, circuit: 'QKV' }, tensorHostSchemas, /circuit/],
      [{ type: 'tensor/directions', k: MAX_DIRECTIONS + 1, tokens: 5 }, tensorWebviewSchemas, /field k/],
      [{ type: 'tensor/directions', k: 2, tokens: -1 }, tensorWebviewSchemas, /tokens/],
      [{ ...directions, which: 'QKV' }, tensorHostSchemas, /which/],
      [{ ...directions, directions: [{ ...direction, sigma: -1 }] }, tensorHostSchemas, /directions/],
      [{ ...directions, directions: [{ ...direction, inputTop: [{ id: 1, text: 'a', value: NaN }] }] }, tensorHostSchemas, /directions/],
      [{ ...directions, directions: Array.from({ length: MAX_DIRECTIONS + 1 }, () => direction) }, tensorHostSchemas, /directions/],
    ];
    for (const [body, table, re] of cases) assert.throws(() => validateEnvelope({ id: 1, body }, table as never), re);
  });
});
