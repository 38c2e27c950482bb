// ONNX external data for one model: every large initializer is written once into a weights.bin
// in a private temp folder, and each graph variant's .onnx (small: nodes only) is written next to
// it and refers to the weights by offset.
//
// Why: a ModelProto is a protobuf message, which cannot exceed 2 GB, so gpt2-large (~3.1 GB f32)
// and gpt2-xl (~6 GB) cannot be encoded inline at all; and with inline raw_data every session
// (main, cache outputs, cut segments, interventions) got its own copy of the weights. With
// external data onnxruntime reads (on the CPU, memory-maps) one file that all variants share.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InitializerDef, TensorData } from './ir';

/** Where one initializer's bytes lie in the weights file. */
export interface ExternalRef {
  /** File name relative to the .onnx files (they sit in the same folder). */
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/** The weights file's name inside the folder; ONNX external_data locations are relative to the model file. */
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Offsets are multiples of 64 KiB: onnxruntime memory-maps an external tensor only when its offset
 * is a multiple of the OS allocation granularity (4 KiB pages on Linux, 64 KiB on Windows), and
 * 64 KiB also satisfies every SIMD alignment. The gaps are file holes, not written bytes.
 */
export const WEIGHT_ALIGNMENT = 64 * 1024;

/** Initializers smaller than this stay inline (shape constants, masks): a file entry would cost more than it saves. */
export const INLINE_LIMIT_BYTES = 1024;

/** Folders still on disk, removed when the process exits (best effort: a SIGKILL leaves them). */
const liveFolders = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const dir of liveFolders) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort: the process is leaving anyway
      }
    }
  });
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class WeightFile {
  /** The temp folder holding weights.bin and the variants' .onnx files. */
  readonly dir: string;
  private fd: number | null;
  private end = 0;
  private modelCounter = 0;
  private disposed = false;
  /**
   * Keyed by the typed array itself: every graph variant of a model is built from the same weight
   * arrays, so identity is what "the same initializer" means here and costs no hashing.
   */
  private readonly placed = new WeakMap<TensorData, ExternalRef>();

  constructor() {
    // raw_data and external data are little-endian by the ONNX spec; typed arrays are in platform order.
    if (endianness() !== 'LE') throw new Error('ONNX external weights need a little-endian platform');
    this.dir = mkdtempSync(join(tmpdir(), `model-lens-weights-${process.pid}-`));
    liveFolders.add(this.dir);
    installExitHook();
    this.fd = openSync(join(this.dir, WEIGHTS_FILE), 'w');
  }

  /** Total bytes of the weights file (including alignment gaps). */
  get size(): number {
    return this.end;
  }

  /** Whether `t` goes to the file (large) or stays inline in the .onnx (small). */
  static isExternal(t: InitializerDef): boolean {
    return t.data.byteLength >= INLINE_LIMIT_BYTES;
  }

  /** Where `t`'s bytes are, appending them the first time this array is seen. */
  place(t: InitializerDef): ExternalRef {
    const hit = this.placed.get(t.data);
    if (hit !== undefined) return hit;
    if (this.fd === null) throw new Error('the model was disposed: its weights file is gone');
    const offset = Math.ceil(this.end / WEIGHT_ALIGNMENT) * WEIGHT_ALIGNMENT;
    const bytes = bytesOf(t.data);
    // Append-only: sessions already open may have mapped earlier ranges, which must never change.
    let done = 0;
    while (done < bytes.byteLength) {
      done += writeSync(this.fd, bytes, done, bytes.byteLength - done, offset + done);
    }
    this.end = offset + bytes.byteLength;
    const ref: ExternalRef = { location: WEIGHTS_FILE, offset, length: bytes.byteLength };
    this.placed.set(t.data, ref);
    return ref;
  }

  /** Writes one encoded variant next to the weights; returns its path (what the session is created from). */
  writeModel(bytes: Uint8Array): string {
    if (this.disposed) throw new Error('the model was disposed: its weights file is gone');
    this.modelCounter += 1;
    const path = join(this.dir, `graph-${this.modelCounter}.onnx`);
    writeFileSync(path, bytes);
    return path;
  }

  /** Removes the folder; call after every session reading it was released. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.dir, { recursive: true, force: true });
    liveFolders.delete(this.dir);
  }
}
