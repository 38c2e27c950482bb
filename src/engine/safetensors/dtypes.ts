// Element types of the safetensors format and the float conversions the engine needs.
// The engine computes in float32; checkpoints may be stored as F16 or BF16 (half the bytes),
// so these functions widen and narrow with the IEEE 754 rules (round to nearest, ties to even).

/** Every dtype the safetensors format defines, with its size in bytes. */
export const DTYPE_SIZES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_SIZES;

/** The dtypes Model Lens can read as floats and write. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

export function isKnownDtype(s: string): s is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(DTYPE_SIZES, s);
}

// One shared scratch word to reinterpret float32 bits without allocating per element.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** IEEE binary16 bits -> number (exact: every half value is a float32 value). */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number -> IEEE binary16 bits, rounding the float32 value to nearest, ties to even. */
export function numberToF16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or a quiet NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow to infinity
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit leading 1 in and round what falls off.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const halfway = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > halfway || (rest === halfway && h & 1)) h += 1;
    return sign | h;
  }
  const rest = mant & 0x1fff;
  let h = (e << 10) | (mant >>> 13);
  // Ties to even; a carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h += 1;
  return sign | h;
}

/** bfloat16 bits -> number: bf16 is the top half of a float32. */
export function bf16BitsToNumber(b: number): number {
  scratchU32[0] = (b & 0xffff) << 16;
  return scratchF32[0]!;
}

/** number -> bfloat16 bits: the float32 rounded to its top 16 bits, ties to even. */
export function numberToBf16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff; // keep NaN a NaN
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Decodes little-endian element bytes of a float dtype into a new Float32Array. */
export function decodeToF32(dtype: FloatDtype | 'F64', bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
        out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
      } else {
        for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      }
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    case 'F16': {
      // A 65,536-entry table makes widening one lookup per element (gpt2-xl has 1.5 G of them).
      const table = f16Table();
      for (let i = 0; i < count; i++) out[i] = table[view.getUint16(i * 2, true)]!;
      return out;
    }
    case 'BF16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
  }
}

/** Encodes float32 values as little-endian bytes of the given dtype. */
export function encodeFromF32(dtype: FloatDtype, data: Float32Array): Uint8Array {
  const size = DTYPE_SIZES[dtype];
  const out = new Uint8Array(data.length * size);
  const view = new DataView(out.buffer);
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      else for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
      return out;
    case 'F16':
      for (let i = 0; i < data.length; i++) view.setUint16(i * 2, numberToF16Bits(data[i]!), true);
      return out;
    case 'BF16':
      for (let i = 0; i < data.length; i++) view.setUint16(i * 2, numberToBf16Bits(data[i]!), true);
      return out;
  }
}

/** This machine stores numbers little-endian, as safetensors does. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let f16TableCache: Float32Array | null = null;
function f16Table(): Float32Array {
  if (!f16TableCache) {
    f16TableCache = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16TableCache[h] = f16BitsToNumber(h);
  }
  return f16TableCache;
}
