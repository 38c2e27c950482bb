// The 16-bit weight encodings (weightDtype.ts, halfSource.ts, onnx/weightInputs.ts): rounding
// float32 to bfloat16 as safetensors/dtypes.ts does, one value at a time; and the graph's decode of
// every bfloat16 pattern, fed as uint16 to a real onnxruntime session, bit for bit equal to
// bf16BitsToNumber (onnxruntime-node has no bfloat16 tensor: the graph looks the bits up in a
// 65,536-entry float32 table, or, where only the CPU runs it, bit-casts them at opset 26). Both
// for a weight read whole and for rows gathered from one.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { decodeHalf, halfSourceOf } from '../../src/engine/halfSource';
import { GraphBuilder } from '../../src/engine/onnx/builder';
import { liftWeights } from '../../src/engine/onnx/weightInputs';
import { createSharedWeightsSession } from '../../src/engine/ort/graphSession';
import type { HostTensor } from '../../src/engine/ort/session';
import { bf16BitsToNumber, f16BitsToNumber, numberToBf16Bits, numberToF16Bits } from '../../src/engine/safetensors/dtypes';
import type { BlockWeights, Tensor } from '../../src/engine/types';
import { halfBlock, HalfSlab, halfTensorOf, toBf16, toF16, toHalf } from '../../src/engine/weightDtype';

/** A block whose every tensor is `t` (only the tensors' handling is looked at). */
function blockOf(t: Tensor): BlockWeights {
  return {
    ln1_w: t,
    ln1_b: t,
    W_Q: t,
    W_K: t,
    W_V: t,
    W_O: t,
    b_Q: t,
    b_K: t,
    b_V: t,
    b_O: t,
    ln2_w: t,
    ln2_b: t,
    W_in: t,
    b_in: t,
    W_out: t,
    b_out: t,
  };
}

const ALL = Uint16Array.from({ length: 65536 }, (_, b) => b);

/** Equal as float32 values, every NaN equal to every NaN (a payload may be quieted on the way). */
function assertSameValues(got: Float32Array, want: (b: number) => number, label: string): void {
  const wantBits = new Uint32Array(1);
  const wantF = new Float32Array(wantBits.buffer);
  const gotBits = new Uint32Array(got.buffer, got.byteOffset, got.length);
  for (let b = 0; b < got.length; b++) {
    wantF[0] = want(b);
    if (Number.isNaN(wantF[0])) {
      assert.ok(Number.isNaN(got[b]), `${label}: pattern 0x${b.toString(16)} decoded to ${got[b]}, not NaN`);
    } else {
      // Bits, not ===: -0 and +0 differ.
      assert.equal(gotBits[b], wantBits[0], `${label}: pattern 0x${b.toString(16)}: ${got[b]} != ${wantF[0]}`);
    }
  }
}

/** float32 values around every binade, ties, the largest finite values, subnormals, zeros, infinities and NaN. */
function probeValues(): Float32Array {
  const bits: number[] = [
    0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0x7f7fffff, 0xff7fffff, 0x00000001, 0x007fffff,
  ];
  for (let e = 0; e < 256; e++) {
    // bfloat16's rounding bit is 0x8000, float16's 0x1000 (ties, either side, and a carry into the exponent).
    for (const m of [
      0, 1, 0x7fff, 0x8000, 0x8001, 0x18000, 0x17fff, 0x7f8000, 0x7fffff, 0xfff, 0x1000, 0x1001, 0x2fff, 0x3000, 0x3001, 0x7ff000, 0x7fefff,
    ])
      bits.push((e << 23) | m, 0x80000000 | (e << 23) | m);
  }
  let s = 12345;
  for (let i = 0; i < 20000; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    bits.push(s);
  }
  return new Float32Array(Uint32Array.from(bits, (b) => b >>> 0).buffer);
}

describe('16-bit weight encodings', () => {
  it('toBf16 rounds as numberToBf16Bits does (nearest, ties to even; NaN stays NaN)', () => {
    const xs = probeValues();
    const got = toBf16(xs);
    for (let i = 0; i < xs.length; i++) {
      const want = numberToBf16Bits(xs[i]!);
      if (Number.isNaN(xs[i])) assert.ok(Number.isNaN(bf16BitsToNumber(got[i]!)), `NaN at ${i} became 0x${got[i]!.toString(16)}`);
      else assert.equal(got[i], want, `${xs[i]}: 0x${got[i]!.toString(16)} != 0x${want.toString(16)}`);
    }
    // float16's path is unchanged: the same check.
    const f16 = toF16(xs);
    for (let i = 0; i < xs.length; i++) if (!Number.isNaN(xs[i])) assert.equal(f16[i], numberToF16Bits(xs[i]!));
  });

  it('decodes on access: every pattern of either encoding', () => {
    assertSameValues(decodeHalf({ bits: ALL, encoding: 'bfloat16' }), bf16BitsToNumber, 'bfloat16');
    assertSameValues(decodeHalf({ bits: ALL, encoding: 'float16' }), f16BitsToNumber, 'float16');
  });

  it('halfWeights keeps a tensor already in its encoding and rounds one in the other again', () => {
    const xs = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
    const f16 = halfTensorOf([64], { bits: toF16(xs), encoding: 'float16' });
    const keptF16 = halfBlock(blockOf(f16), 'float16').W_Q;
    assert.equal(keptF16, f16);
    const bf16 = halfBlock(blockOf(f16), 'bfloat16').W_Q;
    assert.equal(halfSourceOf(bf16)?.encoding, 'bfloat16');
    // The float16 values rounded to bfloat16, not left as float16's bits.
    assert.deepEqual(halfSourceOf(bf16)!.bits, toBf16(f16.data));
  });

  // bfloat16 both ways (weightInputs.ts Bf16Decode): the table at opset 17, BitCast + Cast at 26.
  const cases = [
    { encoding: 'bfloat16', bf16Decode: 'table' },
    { encoding: 'bfloat16', bf16Decode: 'bitcast' },
    { encoding: 'float16', bf16Decode: 'table' },
  ] as const;
  for (const { encoding, bf16Decode } of cases) {
    const decode = encoding === 'bfloat16' ? bf16BitsToNumber : f16BitsToNumber;
    const how = encoding === 'bfloat16' ? ` (${bf16Decode})` : '';
    it(`${encoding}${how}: the graph decodes all 65,536 patterns exactly, whole and gathered`, async () => {
      const b = new GraphBuilder('decode');
      // [256, 256]: row r holds patterns 256r .. 256r + 255.
      const w = b.weight('w', halfTensorOf([256, 256], { bits: ALL, encoding }));
      b.op('Identity', [w], undefined, { out: 'whole' });
      b.output('whole', [256, 256]);
      const ids = b.input('ids', 'int64', [256]);
      b.op('Gather', [w, ids], { axis: { i: 0 } }, { out: 'rows' });
      b.output('rows', [256, 256]);
      const graph = b.build();
      // The weight is fed as its 16 bits, not decoded in JavaScript: bfloat16's as uint16.
      const lifted = liftWeights(graph, { bf16Decode });
      const fed = lifted.weights;
      assert.deepEqual([...fed.keys()], [`w::${encoding === 'bfloat16' ? 'uint16' : 'float16'}`]);
      assert.equal([...fed.values()][0]!.dims.join(), '256,256');
      const ops = new Set(lifted.graph.nodes.map((n) => n.op));
      if (encoding === 'bfloat16') {
        assert.equal(ops.has('BitCast'), bf16Decode === 'bitcast');
        assert.equal(lifted.graph.opset, bf16Decode === 'bitcast' ? 26 : undefined);
      }
      const { session } = await createSharedWeightsSession(graph, { threads: 1, bf16Decode });
      try {
        assert.deepEqual(session.inputNames, ['ids']);
        const reversed = BigInt64Array.from({ length: 256 }, (_, r) => BigInt(255 - r));
        const out = await session.run({ ids: { type: 'int64', dims: [256], data: reversed } }, ['whole', 'rows']);
        const whole = out.whole as HostTensor;
        const rows = out.rows as HostTensor;
        assert.equal(whole.type, 'float32');
        assertSameValues(whole.data as Float32Array, decode, `${encoding} whole`);
        const rowsData = rows.data as Float32Array;
        // Row r of the gathered rows is row 255 - r of the weight.
        assertSameValues(rowsData, (i) => decode((255 - Math.floor(i / 256)) * 256 + (i % 256)), `${encoding} gathered`);
      } finally {
        await session.release();
      }
    });
  }
});

describe("HalfSlab: a load's 16-bit block weights in one buffer", () => {
  const cfg = { n_layers: 2, d_model: 8, d_mlp: 32 };
  /** A block with cfg's shapes and distinct values, LayerNorms included (unprocessed). */
  function block(seed: number): BlockWeights {
    let k = seed;
    const t = (...dims: number[]): Tensor => ({
      dims,
      data: Float32Array.from({ length: dims.reduce((a, d) => a * d, 1) }, () => (k++ % 97) / 7 - 6),
    });
    const d = cfg.d_model;
    return {
      ln1_w: t(d),
      ln1_b: t(d),
      W_Q: t(2, d, 4),
      W_K: t(2, d, 4),
      W_V: t(2, d, 4),
      W_O: t(2, 4, d),
      b_Q: t(2, 4),
      b_K: t(2, 4),
      b_V: t(2, 4),
      b_O: t(d),
      ln2_w: t(d),
      ln2_b: t(d),
      W_in: t(d, cfg.d_mlp),
      b_in: t(cfg.d_mlp),
      W_out: t(cfg.d_mlp, d),
      b_out: t(d),
    };
  }

  for (const encoding of ['float16', 'bfloat16'] as const) {
    it(`${encoding}: every block tensor lands in the one buffer, 64-byte aligned, with the same bits as arrays of their own`, () => {
      const slab = HalfSlab.forBlocks(cfg);
      const blocks = [block(1), block(500)];
      const inSlab = blocks.map((b) => halfBlock(b, encoding, slab));
      const alone = blocks.map((b) => halfBlock(b, encoding));
      const buffers = new Set<ArrayBufferLike>();
      for (let l = 0; l < blocks.length; l++) {
        for (const key of Object.keys(blocks[l]!) as (keyof BlockWeights)[]) {
          const got = halfSourceOf(inSlab[l]![key]!)!.bits;
          assert.deepEqual(got, halfSourceOf(alone[l]![key]!)!.bits, `${key} of block ${l}`);
          assert.equal(got.byteOffset % 64, 0, `${key} of block ${l} starts on a 64-byte line`);
          buffers.add(got.buffer);
        }
      }
      assert.equal(buffers.size, 1, 'one buffer for every tensor of both blocks');
    });
  }

  it('full, it hands out arrays of their own, with the same bits', () => {
    const slab = new HalfSlab(100, 0); // 200 bytes
    const xs = Float32Array.from({ length: 64 }, (_, i) => i / 3 - 7);
    const first = toHalf(xs, 'float16', slab).bits; // bytes 0..127, the next array from byte 128
    assert.equal(first.byteOffset, 0);
    const second = toHalf(xs, 'float16', slab).bits; // 128 more bytes do not fit in the 72 left
    assert.notEqual(second.buffer, first.buffer);
    assert.equal(second.byteOffset, 0);
    assert.deepEqual(second, first);
    assert.deepEqual(first, toF16(xs));
    const third = slab.take(36)!; // 72 bytes still fit
    assert.equal(third.buffer, first.buffer);
    assert.equal(third.byteOffset, 128);
    assert.equal(slab.take(1), null);
  });
});
