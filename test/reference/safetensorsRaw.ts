// A deliberately small safetensors reader for the test oracle. It shares no code with the
// engine's loader (src/engine/safetensors/) so that a bug there cannot hide in both: the
// reference reads the same bytes its own way and widens every element to float64.
//
// Format: 8-byte little-endian u64 header length N, N bytes of JSON
// ({ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }),
// then the data buffer; offsets are relative to the start of that buffer.

import { readFileSync } from 'node:fs';

export type RawDtype = 'F32' | 'F16' | 'BF16';

export interface RawTensor {
  readonly dtype: RawDtype;
  readonly shape: readonly number[];
  /** Every element widened exactly to float64, row-major. */
  readonly data: Float64Array;
}

const BYTES: Record<RawDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Reads every tensor of a .safetensors file; throws naming the file and tensor on any inconsistency. */
export function readSafetensorsRaw(path: string): Map<string, RawTensor> {
  const file = readFileSync(path);
  if (file.length < 8) throw new Error(`${path}: ${file.length} bytes, too short for a safetensors header`);
  const headerLen = Number(file.readBigUInt64LE(0));
  if (headerLen > file.length - 8) throw new Error(`${path}: header length ${headerLen} exceeds the file`);
  const header = JSON.parse(file.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, unknown>;
  const dataStart = 8 + headerLen;
  const out = new Map<string, RawTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new Error(`${path}: ${name} has unsupported dtype ${dtype}`);
    const count = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = data_offsets;
    if (end - begin !== count * BYTES[dtype])
      throw new Error(`${path}: ${name} spans ${end - begin} bytes, shape [${shape}] ${dtype} needs ${count * BYTES[dtype]}`);
    if (dataStart + end > file.length) throw new Error(`${path}: ${name} runs past the end of the file`);
    out.set(name, { dtype, shape, data: decode(file, dataStart + begin, count, dtype) });
  }
  return out;
}

function decode(buf: Buffer, at: number, count: number, dtype: RawDtype): Float64Array {
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    if (dtype === 'F32') data[i] = buf.readFloatLE(at + 4 * i);
    else if (dtype === 'F16') data[i] = halfToNumber(buf.readUInt16LE(at + 2 * i));
    else data[i] = bfloat16ToNumber(buf.readUInt16LE(at + 2 * i));
  }
  return data;
}

/** IEEE 754 binary16, decoded from its fields (not through a float32 bit trick, to stay independent). */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal: frac * 2^-10 * 2^-14
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bfloat16 is the top half of a float32. */
export function bfloat16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 7) & 0xff;
  const frac = bits & 0x7f;
  if (exp === 0) return sign * frac * 2 ** -133; // subnormal: frac * 2^-7 * 2^-126
  if (exp === 0xff) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 128) * 2 ** (exp - 127);
}
