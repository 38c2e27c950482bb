// Reads safetensors files: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte span, then the raw data. The header is parsed and checked
// once; tensors are then read one at a time with positional reads, so a 6 GB checkpoint
// (gpt2-xl) is never held in memory twice nor read in full just to look at its header.

import { promises as fs } from 'node:fs';
import type { Tensor } from '../types';
import { DTYPE_SIZES, decodeToF32, isKnownDtype, LITTLE_ENDIAN, type SafetensorsDtype } from './dtypes';

/** A safetensors file is wrong or unreadable; the message names the file and the problem. */
export class SafetensorsError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly dims: readonly number[];
  /** Byte span relative to the start of the data section, as in the header. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsFile {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** Tensor names in the order of their data in the file. */
  names(): string[];
  has(name: string): boolean;
  /** Reads one tensor and widens F16/BF16/F64 to float32. */
  getTensorF32(name: string): Promise<Float32Array>;
  /** The same, with its dims. */
  getTensor(name: string): Promise<Tensor>;
}

/** A header longer than this is not a real checkpoint (the reference implementation's limit too). */
export const MAX_HEADER_BYTES = 100_000_000;
/** Node reads at most about 2 GiB per call; a big tensor is read in chunks below that. */
const READ_CHUNK_BYTES = 1 << 30;

export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    throw new SafetensorsError(path, describeOpenError(err));
  }
  try {
    const fileSize = (await handle.stat()).size;
    if (fileSize < 8) {
      throw new SafetensorsError(path, `file is ${fileSize} bytes, too small for the 8-byte header length`);
    }
    const lenBytes = Buffer.alloc(8);
    await readExactly(handle, lenBytes, 0, path);
    const headerLen = lenBytes.readBigUInt64LE(0);
    if (headerLen > BigInt(MAX_HEADER_BYTES)) {
      throw new SafetensorsError(path, `header length ${headerLen} is implausibly large (limit ${MAX_HEADER_BYTES} bytes)`);
    }
    const n = Number(headerLen);
    if (8 + n > fileSize) {
      throw new SafetensorsError(path, `header length ${n} runs past the end of the file (${fileSize} bytes; truncated?)`);
    }
    const headerBytes = Buffer.alloc(n);
    await readExactly(handle, headerBytes, 8, path);
    const dataStart = 8 + n;
    const { tensors, metadata } = parseHeader(path, headerBytes, fileSize - dataStart);
    return new FileReader(path, fileSize, dataStart, tensors, metadata);
  } finally {
    await handle.close();
  }
}

/** A safetensors file read whole into one buffer, its tensors viewed in place (readSafetensorsWhole). */
export interface SafetensorsInMemory {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** The tensor's stored bytes as a typed array over the file's buffer (no copy): F64, F32, or 16-bit bits. */
  view(name: string): Float64Array | Float32Array | Uint16Array;
}

/** Parallel reads for a whole file: the thread pool fills (and faults in) pages on both cores at once. */
const WHOLE_READ_PARTS = 4;

/**
 * Reads a safetensors file into one buffer, in WHOLE_READ_PARTS reads at once (measured on 2 cores,
 * 548 MB from the page cache: 208 ms in one read, 125 ms in four), and views each tensor in place,
 * as PyTorch's peer in bench/ does. The header's spans are checked as readSafetensors checks them.
 * A tensor's dtype must be F64, F32, F16, BF16 or U16, and its data aligned to its element size
 * (writers that order tensors by element size, largest first, give that).
 */
export async function readSafetensorsWhole(path: string, onRead?: (done: number, total: number) => void): Promise<SafetensorsInMemory> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    throw new SafetensorsError(path, describeOpenError(err));
  }
  let bytes: Uint8Array;
  try {
    const size = (await handle.stat()).size;
    if (size < 8) throw new SafetensorsError(path, `file is ${size} bytes, too small for the 8-byte header length`);
    bytes = new Uint8Array(size);
    const part = Math.ceil(size / WHOLE_READ_PARTS / 4096) * 4096;
    let done = 0;
    const reads: Promise<void>[] = [];
    for (let at = 0; at < size; at += part) {
      const length = Math.min(part, size - at);
      reads.push(
        readExactly(handle, bytes.subarray(at, at + length), at, path).then(() => {
          done += length;
          onRead?.(done, size);
        }),
      );
    }
    await Promise.all(reads);
  } finally {
    await handle.close();
  }
  const headerLen = new DataView(bytes.buffer).getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw new SafetensorsError(
      path,
      `header length ${headerLen} runs past the end of the file (${bytes.length} bytes) or is implausibly large`,
    );
  }
  const dataStart = 8 + Number(headerLen);
  const { tensors, metadata } = parseHeader(path, Buffer.from(bytes.buffer, 8, Number(headerLen)), bytes.length - dataStart);
  return {
    path,
    metadata,
    tensors,
    view(name: string): Float64Array | Float32Array | Uint16Array {
      const info = tensors.get(name);
      if (!info) throw new SafetensorsError(path, `no tensor named "${name}"`);
      const at = dataStart + info.begin;
      const count = info.dims.reduce((a, d) => a * d, 1);
      const make = VIEWS[info.dtype as keyof typeof VIEWS];
      if (make === undefined)
        throw new SafetensorsError(path, `tensor "${name}": dtype ${info.dtype} cannot be viewed (F64, F32, F16, BF16, U16)`);
      if (at % DTYPE_SIZES[info.dtype] !== 0)
        throw new SafetensorsError(path, `tensor "${name}": its data is not aligned to its ${info.dtype} elements`);
      if (!LITTLE_ENDIAN) throw new SafetensorsError(path, 'viewing tensors in place needs a little-endian machine');
      return make(bytes.buffer as ArrayBuffer, at, count);
    },
  };
}

const VIEWS = {
  F64: (b: ArrayBuffer, at: number, n: number) => new Float64Array(b, at, n),
  F32: (b: ArrayBuffer, at: number, n: number) => new Float32Array(b, at, n),
  F16: (b: ArrayBuffer, at: number, n: number) => new Uint16Array(b, at, n),
  BF16: (b: ArrayBuffer, at: number, n: number) => new Uint16Array(b, at, n),
  U16: (b: ArrayBuffer, at: number, n: number) => new Uint16Array(b, at, n),
} as const;

function parseHeader(
  path: string,
  headerBytes: Buffer,
  dataSize: number,
): { tensors: Map<string, SafetensorsTensorInfo>; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(headerBytes.toString('utf8'));
  } catch (err) {
    throw new SafetensorsError(path, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError(path, 'header is not a JSON object');
  }
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new SafetensorsError(path, '__metadata__ is not an object of strings');
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError(path, `__metadata__ value "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.set(name, parseEntry(path, name, entry, dataSize));
  }
  checkSpans(path, [...tensors.values()], dataSize);
  return { tensors, metadata };
}

function parseEntry(path: string, name: string, entry: unknown, dataSize: number): SafetensorsTensorInfo {
  const bad = (problem: string): SafetensorsError => new SafetensorsError(path, `tensor "${name}": ${problem}`);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad('header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string') throw bad('dtype is missing');
  if (!isKnownDtype(dtype)) {
    throw bad(`unsupported dtype "${dtype}" (known: ${Object.keys(DTYPE_SIZES).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw bad(`data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] with 0 <= begin <= end`);
  }
  const dims = shape as number[];
  const [begin, end] = offsets as [number, number];
  const elements = dims.reduce((a, d) => a * d, 1);
  const expected = elements * DTYPE_SIZES[dtype];
  if (expected !== end - begin) {
    throw bad(`shape [${dims.join(', ')}] of ${dtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  if (end > dataSize) {
    throw bad(`data_offsets [${begin}, ${end}] reach past the end of the data section (${dataSize} bytes; truncated?)`);
  }
  return { name, dtype, dims, begin, end };
}

/** The format requires the spans to tile the data section exactly: no overlaps, no holes, no trailing bytes. */
function checkSpans(path: string, infos: SafetensorsTensorInfo[], dataSize: number): void {
  const sorted = infos.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  let cursor = 0;
  let prev: SafetensorsTensorInfo | null = null;
  for (const t of sorted) {
    if (t.begin < cursor && prev) {
      throw new SafetensorsError(
        path,
        `tensors "${prev.name}" [${prev.begin}, ${prev.end}] and "${t.name}" [${t.begin}, ${t.end}] overlap`,
      );
    }
    if (t.begin > cursor) {
      throw new SafetensorsError(path, `tensor "${t.name}" starts at byte ${t.begin} but the previous data ends at ${cursor} (a hole)`);
    }
    cursor = t.end;
    prev = t;
  }
  if (cursor !== dataSize) {
    throw new SafetensorsError(path, `${dataSize - cursor} bytes after the last tensor's data (the header does not describe them)`);
  }
}

class FileReader implements SafetensorsFile {
  constructor(
    readonly path: string,
    private readonly fileSize: number,
    private readonly dataStart: number,
    readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  names(): string[] {
    return [...this.tensors.values()].sort((a, b) => a.begin - b.begin).map((t) => t.name);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  async getTensor(name: string): Promise<Tensor> {
    const data = await this.getTensorF32(name);
    return { dims: [...this.tensors.get(name)!.dims], data };
  }

  async getTensorF32(name: string): Promise<Float32Array> {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(this.path, `no tensor named "${name}"`);
    const { dtype } = info;
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16' && dtype !== 'F64') {
      throw new SafetensorsError(this.path, `tensor "${name}": unsupported dtype "${dtype}" for float weights (F32, F16, BF16, F64)`);
    }
    const bytes = new Uint8Array(info.end - info.begin);
    // Opened per read so no handle outlives a call; the size check catches a file replaced meanwhile.
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path, 'r');
    } catch (err) {
      throw new SafetensorsError(this.path, describeOpenError(err));
    }
    try {
      const size = (await handle.stat()).size;
      if (size !== this.fileSize) {
        throw new SafetensorsError(this.path, `file changed size while reading (${this.fileSize} -> ${size} bytes)`);
      }
      await readExactly(handle, bytes, this.dataStart + info.begin, this.path);
    } finally {
      await handle.close();
    }
    const count = info.dims.reduce((a, d) => a * d, 1);
    // Stored as float32 already: the bytes just read are the tensor, so view them instead of
    // copying into a second array (every fresh page costs a fault; copying doubled a load's
    // page faults). `bytes` is this call's own buffer at offset 0, so the view is aligned.
    if (dtype === 'F32' && LITTLE_ENDIAN) return new Float32Array(bytes.buffer, 0, count);
    return decodeToF32(dtype, bytes, count);
  }
}

async function readExactly(handle: fs.FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    const len = Math.min(READ_CHUNK_BYTES, into.byteLength - done);
    const { bytesRead } = await handle.read(into, done, len, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(path, `unexpected end of file at byte ${position + done} (truncated?)`);
    }
    done += bytesRead;
  }
}

function describeOpenError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'is a directory, not a safetensors file';
  if (code === 'EACCES') return 'permission denied';
  return `cannot open (${(err as Error).message})`;
}
