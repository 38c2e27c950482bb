// ONNX external data for one model: every large initializer is written once into a weights.bin
// in a private temp folder, and each graph variant's .onnx (small: nodes only) is written next to
// it and refers to the weights by offset.
//
// Why: a ModelProto is a protobuf message, which cannot exceed 2 GB, so gpt2-large (~3.1 GB f32)
// and gpt2-xl (~6 GB) cannot be encoded inline at all; and with inline raw_data every session
// (main, cache outputs, cut segments, interventions) got its own copy of the weights. With
// external data onnxruntime reads (on the CPU, memory-maps) one file that all variants share.
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { initializerBytes, type InitializerDef, type TensorData } from './ir';

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

/** Temp folder names: the owner's pid is in the name, so a later process can tell whose a folder is. */
export const WEIGHT_FOLDER_PREFIX = 'model-lens-weights-';
const FOLDER_NAME = /^model-lens-weights-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * A folder of a dead process is swept only when it is also this old: a pid that was just freed
 * may belong to a process in another pid namespace sharing /tmp that is still writing, and an
 * age of minutes is far beyond the seconds between mkdtemp and the first file.
 */
export const STALE_FOLDER_AGE_MS = 10 * 60 * 1000;

/**
 * Folders still on disk, removed when the process exits: a normal exit, process.exit, and an
 * uncaught error all emit 'exit'. Signals do not: the CLI turns SIGINT/SIGTERM/SIGHUP into
 * process.exit. A SIGKILL or a native crash leaves the folder, and the next process sweeps it.
 */
const liveFolders = new Set<string>();
let exitHookInstalled = false;
let swept = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', removeLiveWeightFolders);
}

/** The weights folders this process still holds (disposed ones that could not be removed included). */
export function liveWeightFolders(): readonly string[] {
  return [...liveFolders];
}

/** Removes every weights folder this process still holds (for exit paths; sessions reading them must be done). */
export function removeLiveWeightFolders(): void {
  for (const dir of liveFolders) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort: the process is leaving anyway
    }
  }
  liveFolders.clear();
}

/** True when a process with this pid exists (EPERM: it exists but is someone else's). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes weights folders left in `dir` by processes that died without cleaning up (killed,
 * crashed): the name's pid is not alive and the folder is older than `maxAgeMs`. A folder of a
 * live process, of this process, or with a name not of this form is never touched. Returns the
 * paths removed.
 */
export function sweepStaleWeightFolders(dir: string = tmpdir(), opts: { maxAgeMs?: number; now?: number } = {}): string[] {
  const maxAgeMs = opts.maxAgeMs ?? STALE_FOLDER_AGE_MS;
  const now = opts.now ?? Date.now();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = FOLDER_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isProcessAlive(pid)) continue;
    const path = join(dir, name);
    try {
      const s = statSync(path);
      if (!s.isDirectory() || now - s.mtimeMs < maxAgeMs) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // gone meanwhile, or not ours to remove: leave it
    }
  }
  return removed;
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
    if (!swept) {
      swept = true;
      sweepStaleWeightFolders();
    }
    this.dir = mkdtempSync(join(tmpdir(), `${WEIGHT_FOLDER_PREFIX}${process.pid}-`));
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
    return initializerBytes(t) >= INLINE_LIMIT_BYTES;
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

  /**
   * Removes the folder; call after every session reading it was released. Never throws for the
   * removal: Windows refuses to delete a file that is still mapped (a session in a worker thread
   * that was ended mid-run is never released, so its mapping lives until the process ends), and
   * a scanner may hold a file for a moment. rmSync retries those codes briefly; a folder still
   * there stays listed for the exit hook, and a later process sweeps it.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 });
      liveFolders.delete(this.dir);
    } catch {
      // left in liveFolders: removed on exit or swept by the next process (see above)
    }
  }
}
