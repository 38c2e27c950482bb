// Which weight tensors are views of 16-bit weights (ModelOptions.dtype 'fp16' or 'bf16',
// weightDtype.ts), and how such bits decode. A view's `data` is decoded to float32 on access; code
// that only needs to name the weight (the graph builder: a weight becomes a graph input fed its
// 16-bit source) asks for the source instead and decodes nothing. Keyed by the Tensor object, so a
// tensor made from one ({ ...t }, new data) is not taken for a view and is decoded like any other.
import { f16BitsToNumber } from './safetensors/dtypes';
import type { Tensor } from './types';

/** IEEE binary16, or bfloat16 (the top half of a float32: float32's range, 8 significant bits). */
export type HalfEncoding = 'float16' | 'bfloat16';

/** A weight's 16-bit values, one per element in the same order, and what they encode. */
export interface HalfSource {
  readonly bits: Uint16Array;
  readonly encoding: HalfEncoding;
}

const sources = new WeakMap<Tensor, HalfSource>();

/** The 16-bit source `t` decodes from, or undefined for a tensor that holds its float32 values. */
export function halfSourceOf(t: Tensor): HalfSource | undefined {
  return sources.get(t);
}

/** Records that `t.data` is `source` decoded. */
export function setHalfSource(t: Tensor, source: HalfSource): void {
  sources.set(t, source);
}

/**
 * The float32 value of every 16-bit pattern (65,536 entries, 256 KB), made once per encoding:
 * each value of either encoding is exactly a float32 value. bfloat16's is written as bits (the
 * pattern shifted into a float32's top half), so its NaN payloads are kept too. The graph decodes
 * bfloat16 through this same table (onnx/weightInputs.ts).
 */
const tables = new Map<HalfEncoding, Float32Array>();
export function decodeTable(encoding: HalfEncoding): Float32Array {
  let t = tables.get(encoding);
  if (t === undefined) {
    t = new Float32Array(65536);
    if (encoding === 'bfloat16') {
      const u = new Uint32Array(t.buffer);
      for (let b = 0; b < 65536; b++) u[b] = b << 16;
    } else {
      for (let h = 0; h < 65536; h++) t[h] = f16BitsToNumber(h);
    }
    tables.set(encoding, t);
  }
  return t;
}

/** `source` as float32, through decodeTable. */
export function decodeHalf(source: HalfSource): Float32Array {
  const table = decodeTable(source.encoding);
  const { bits } = source;
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!;
  return out;
}
