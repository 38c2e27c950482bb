// Writes safetensors files atomically: everything goes to a temporary file beside the target,
// which is flushed and then renamed over it, so a reader never sees half a file and a failed
// write leaves whatever was there before. Tensors are encoded and written one at a time, and
// a tensor's data may be produced on demand, so a 500 MB checkpoint is written without
// holding all of it in memory.

import { promises as fs } from 'node:fs';
import { renameOver } from '../../common/renameOver';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { DTYPE_SIZES, encodeFromF32, LITTLE_ENDIAN, type FloatDtype, type SafetensorsDtype } from './dtypes';

/** A tensor given as float32 values, rounded to `dtype` as it is written. */
export interface SafetensorsTensorToEncode {
  readonly name: string;
  readonly dims: readonly number[];
  /** Stored element type; `data` is always float32 and is rounded to this on write. */
  readonly dtype: FloatDtype;
  /** The values, or a function producing them when the writer reaches this tensor. */
  readonly data: Float32Array | (() => Float32Array);
}

/**
 * A tensor given as its stored values, written as they are: a Float64Array for F64, a Uint16Array
 * of the bits for F16 or BF16 (the processed-weights cache keeps 16-bit weights so, without a
 * round trip through float32), a Float32Array for F32.
 */
export interface SafetensorsTensorAsStored {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dtype: SafetensorsDtype;
  readonly stored: Float64Array | Float32Array | Uint16Array;
}

export type SafetensorsTensorToWrite = SafetensorsTensorToEncode | SafetensorsTensorAsStored;

export async function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsTensorToWrite[],
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header['__metadata__'] = { ...metadata };
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.prototype.hasOwnProperty.call(header, t.name)) {
      throw new Error(`writeSafetensors(${path}): duplicate or reserved tensor name "${t.name}"`);
    }
    if (!t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`writeSafetensors(${path}): tensor "${t.name}" has invalid dims [${t.dims.join(', ')}]`);
    }
    const bytes = elementCount(t.dims) * DTYPE_SIZES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: [...t.dims], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  // Pad with spaces to a multiple of 8 so the data section starts aligned (as the reference writer does).
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(json.length));

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx');
  let ok = false;
  try {
    await writeAll(handle, lenBytes);
    await writeAll(handle, json);
    for (const t of tensors) {
      const expected = elementCount(t.dims);
      const data = 'stored' in t ? null : typeof t.data === 'function' ? t.data() : t.data;
      const count = data === null ? (t as SafetensorsTensorAsStored).stored.length : data.length;
      if (count !== expected) {
        throw new Error(
          `writeSafetensors(${path}): tensor "${t.name}" has ${count} values but dims [${t.dims.join(', ')}] need ${expected}`,
        );
      }
      await writeAll(handle, 'stored' in t ? storedBytes(path, t) : encodeFromF32(t.dtype, data!));
    }
    await handle.sync();
    ok = true;
  } finally {
    await handle.close();
    if (!ok) await fs.rm(tmp, { force: true });
  }
  try {
    await renameOver(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** A stored tensor's bytes, viewed (not copied): its array's element size must be its dtype's. */
function storedBytes(path: string, t: SafetensorsTensorAsStored): Uint8Array {
  if (t.stored.BYTES_PER_ELEMENT !== DTYPE_SIZES[t.dtype]) {
    throw new Error(
      `writeSafetensors(${path}): tensor "${t.name}" is ${t.dtype} but its array holds ${t.stored.BYTES_PER_ELEMENT}-byte elements`,
    );
  }
  if (!LITTLE_ENDIAN) throw new Error(`writeSafetensors(${path}): writing stored tensors needs a little-endian machine`);
  return new Uint8Array(t.stored.buffer, t.stored.byteOffset, t.stored.byteLength);
}

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, d) => a * d, 1);
}

async function writeAll(handle: fs.FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, Math.min(bytes.byteLength - done, 1 << 30));
    done += bytesWritten;
  }
}
