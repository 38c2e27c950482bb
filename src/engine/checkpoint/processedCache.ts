// Processed weights kept on disk between loads (ModelOptions.processedWeightsCache), so that a
// model loaded before is read, not processed again. Processing (fold_ln, centring, the c_attn
// split, rounding to 16 bits) is most of a load's time in JavaScript: gpt2-small's shape, 0.93 s
// to ready, of which reading 0.32 s and processing 0.47 s. The processed weights read back in one
// buffer, in parallel reads, with every tensor a view of it, as PyTorch's peer reads its checkpoint.
//
// An entry is a safetensors file: the tie vectors (float64) first, then float32 tensors, then 16-bit
// ones, so every tensor's data is aligned to its elements. Its metadata holds the key it was made
// for (the checkpoint's identity, config.json's hash, the processing switches, the dtype and this
// file's revisions), the processed config and the load's warnings. A file whose key, spans or
// shapes differ is not used (the load processes the checkpoint and writes the entry again).
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import type { BlockWeights, GPT2Weights, HookedGPT2Config, ProcessingOptions, Tensor } from '../types';
import { readSafetensorsWhole, type SafetensorsInMemory } from '../safetensors/read';
import { writeSafetensors, type SafetensorsTensorAsStored } from '../safetensors/write';
import { halfSourceOf, type HalfEncoding } from '../halfSource';
import { halfTensorOf, type WeightDtype } from '../weightDtype';
import { tiedW_U, type TiedUnembed } from '../tiedUnembed';

/** The entry's layout; a change makes older entries unreadable, so they are not used. */
const CACHE_FORMAT = 1;
/**
 * Bump when the processed floats for the same checkpoint and switches change (processing.ts,
 * checkpoint/load.ts, tiedUnembed.ts's vectors, weightDtype.ts's rounding): entries made by the
 * old code are then not used. processedCache.test.ts checks a cached load against a fresh one bit
 * for bit, which catches a change made without the bump only within one version of the code.
 */
export const PROCESSING_REVISION = 1;
/** Entries kept in the cache folder; the least recently used beyond this are deleted. */
export const DEFAULT_MAX_ENTRIES = 2;
/** A temporary file older than this is a write that died (its process ended): deleted. */
const STALE_TMP_MS = 60 * 60 * 1000;
/** Free disk an entry's write leaves, at least: a cache never fills the disk. */
const FREE_DISK_MARGIN = 2 ** 30;

const META_KEY = 'model_lens.key';
const META_CFG = 'model_lens.cfg';
const META_WARNINGS = 'model_lens.warnings';
const META_PROCESSING_WARNINGS = 'model_lens.processing_warnings';
const META_NULLS = 'model_lens.absent';

const TIE_VECTORS = ['scale', 'rowOffset', 'columnShift', 'rowShift'] as const;
const BLOCK_KEYS: readonly (keyof BlockWeights)[] = [
  'ln1_w',
  'ln1_b',
  'W_Q',
  'W_K',
  'W_V',
  'W_O',
  'b_Q',
  'b_K',
  'b_V',
  'b_O',
  'ln2_w',
  'ln2_b',
  'W_in',
  'b_in',
  'W_out',
  'b_out',
];

/** One cache entry's identity: the file it lives in and the key its metadata must carry. */
export interface ProcessedCacheEntry {
  readonly path: string;
  readonly key: string;
}

/** What loadProcessed would return, read from the cache. */
export interface CachedProcessedWeights {
  readonly cfg: HookedGPT2Config;
  readonly weights: GPT2Weights;
  readonly warnings: readonly string[];
  readonly processingWarnings: readonly string[];
}

/**
 * The entry for `folder` loaded in `dtype` with `processing`. The checkpoint is known by its real
 * path, size, modification time and inode (a download replaces the file, which changes them), and
 * config.json by its bytes' hash; null when the folder cannot be read (the load then reports why).
 */
export async function processedCacheEntry(
  cacheDir: string,
  folder: string,
  dtype: WeightDtype,
  processing: ProcessingOptions,
): Promise<ProcessedCacheEntry | null> {
  try {
    const weightsPath = await fs.realpath(join(folder, 'model.safetensors'));
    const stat = await fs.stat(weightsPath);
    const config = await fs.readFile(join(folder, 'config.json'));
    const key = JSON.stringify({
      format: CACHE_FORMAT,
      revision: PROCESSING_REVISION,
      checkpoint: { path: weightsPath, size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino },
      // The model's name is the folder's (loadCheckpoint's default), so the folder is part of the key too.
      folder: basename(folder),
      config: createHash('sha256').update(config).digest('hex'),
      dtype,
      processing: {
        fold_ln: processing.fold_ln,
        center_writing_weights: processing.center_writing_weights,
        center_unembed: processing.center_unembed,
        fold_value_biases: processing.fold_value_biases,
      },
    });
    const id = createHash('sha256').update(key).digest('hex').slice(0, 16);
    const name = `${basename(folder)
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(0, 80)}-${dtype}-${id}.safetensors`;
    return { path: join(cacheDir, name), key };
  } catch {
    return null;
  }
}

/**
 * The entry's processed weights, or a one-line reason it cannot be used (absent, another key,
 * malformed). Marks the entry used (its modification time) so eviction keeps it.
 */
export async function readProcessedWeights(
  entry: ProcessedCacheEntry,
  dtype: WeightDtype,
  onRead?: (done: number, total: number) => void,
): Promise<CachedProcessedWeights | { readonly unused: string }> {
  try {
    await fs.access(entry.path);
  } catch {
    return { unused: 'no entry' };
  }
  let file: SafetensorsInMemory;
  try {
    file = await readSafetensorsWhole(entry.path, onRead);
  } catch (err) {
    return { unused: `unreadable: ${(err as Error).message}` };
  }
  if (file.metadata[META_KEY] !== entry.key) return { unused: 'made for another checkpoint, dtype or processing' };
  try {
    const cfg = JSON.parse(file.metadata[META_CFG] ?? 'null') as HookedGPT2Config;
    const absent = new Set(JSON.parse(file.metadata[META_NULLS] ?? '[]') as string[]);
    const weights = weightsFrom(file, cfg, absent, dtype);
    const result: CachedProcessedWeights = {
      cfg,
      weights,
      warnings: stringList(file.metadata[META_WARNINGS]),
      processingWarnings: stringList(file.metadata[META_PROCESSING_WARNINGS]),
    };
    const now = new Date();
    await fs.utimes(entry.path, now, now).catch(() => undefined);
    return result;
  } catch (err) {
    return { unused: `malformed: ${(err as Error).message}` };
  }
}

/**
 * Writes the entry for a model just processed, atomically (a reader never sees half a file), then
 * deletes the least recently used entries beyond `maxEntries` and temporary files of writes that
 * died. The tensors are written from the model's own arrays: nothing is copied.
 */
export async function writeProcessedWeights(
  entry: ProcessedCacheEntry,
  loaded: CachedProcessedWeights,
  maxEntries = DEFAULT_MAX_ENTRIES,
): Promise<void> {
  const dir = join(entry.path, '..');
  await fs.mkdir(dir, { recursive: true });
  const { tensors, absent } = storedTensors(loaded.cfg, loaded.weights);
  const bytes = tensors.reduce((sum, t) => sum + t.stored.byteLength, 0);
  const disk = await fs.statfs(dir);
  const free = disk.bavail * disk.bsize;
  if (free < bytes + FREE_DISK_MARGIN) {
    throw new Error(
      `the cache folder's disk has ${gib(free)} GiB free; the entry needs ${gib(bytes)} GiB and ${gib(FREE_DISK_MARGIN)} GiB are left for everything else`,
    );
  }
  await writeSafetensors(entry.path, tensors, {
    [META_KEY]: entry.key,
    [META_CFG]: JSON.stringify(loaded.cfg),
    [META_NULLS]: JSON.stringify(absent),
    [META_WARNINGS]: JSON.stringify(loaded.warnings),
    [META_PROCESSING_WARNINGS]: JSON.stringify(loaded.processingWarnings),
  });
  await evict(dir, entry.path, maxEntries);
}

/** Every weight under its cache name with its shape; null entries are absent (folded LayerNorms). */
function namedWeights(cfg: HookedGPT2Config, w: GPT2Weights): [string, readonly number[], Tensor | null][] {
  const { d_model, d_vocab, d_vocab_out, n_ctx, n_heads, d_head, d_mlp } = cfg;
  const blockDims: Record<keyof BlockWeights, readonly number[]> = {
    ln1_w: [d_model],
    ln1_b: [d_model],
    W_Q: [n_heads, d_model, d_head],
    W_K: [n_heads, d_model, d_head],
    W_V: [n_heads, d_model, d_head],
    W_O: [n_heads, d_head, d_model],
    b_Q: [n_heads, d_head],
    b_K: [n_heads, d_head],
    b_V: [n_heads, d_head],
    b_O: [d_model],
    ln2_w: [d_model],
    ln2_b: [d_model],
    W_in: [d_model, d_mlp],
    b_in: [d_mlp],
    W_out: [d_mlp, d_model],
    b_out: [d_model],
  };
  const out: [string, readonly number[], Tensor | null][] = [
    ['W_E', [d_vocab, d_model], w.W_E],
    ['W_pos', [n_ctx, d_model], w.W_pos],
  ];
  for (let l = 0; l < cfg.n_layers; l++) {
    const b = w.blocks[l];
    for (const k of BLOCK_KEYS) out.push([`blocks.${l}.${k}`, blockDims[k], b === undefined ? null : b[k]]);
  }
  out.push(['ln_final_w', [d_model], w.ln_final_w], ['ln_final_b', [d_model], w.ln_final_b]);
  // A tied unembedding is computed from W_E and the tie vectors (tiedUnembed.ts), not stored.
  if (w.tiedUnembed === undefined) out.push(['W_U', [d_model, d_vocab_out], w.W_U]);
  out.push(['b_U', [d_vocab_out], w.b_U]);
  return out;
}

function storedTensors(cfg: HookedGPT2Config, w: GPT2Weights): { tensors: SafetensorsTensorAsStored[]; absent: string[] } {
  const f64: SafetensorsTensorAsStored[] = [];
  const f32: SafetensorsTensorAsStored[] = [];
  const half: SafetensorsTensorAsStored[] = [];
  const absent: string[] = [];
  const tie = w.tiedUnembed;
  if (tie !== undefined) {
    for (const k of TIE_VECTORS) {
      const v = tie[k];
      if (v === null) absent.push(`tie.${k}`);
      else f64.push({ name: `tie.${k}`, dims: [v.length], dtype: 'F64', stored: v });
    }
  }
  for (const [name, dims, t] of namedWeights(cfg, w)) {
    if (t === null) {
      absent.push(name);
      continue;
    }
    const source = halfSourceOf(t);
    if (source !== undefined) half.push({ name, dims, dtype: source.encoding === 'float16' ? 'F16' : 'BF16', stored: source.bits });
    else f32.push({ name, dims, dtype: 'F32', stored: t.data });
  }
  // Largest elements first: each tensor's offset is then a multiple of its element size.
  return { tensors: [...f64, ...f32, ...half], absent };
}

function weightsFrom(file: SafetensorsInMemory, cfg: HookedGPT2Config, absent: ReadonlySet<string>, dtype: WeightDtype): GPT2Weights {
  const encoding: HalfEncoding | null = dtype === 'fp16' ? 'float16' : dtype === 'bf16' ? 'bfloat16' : null;
  const wantDtype = encoding === null ? 'F32' : encoding === 'float16' ? 'F16' : 'BF16';
  const tensor = (name: string, dims: readonly number[]): Tensor | null => {
    if (absent.has(name)) return null;
    const info = file.tensors.get(name);
    if (info === undefined) throw new Error(`no tensor "${name}"`);
    if (info.dtype !== wantDtype) throw new Error(`"${name}" is ${info.dtype}, not ${wantDtype}`);
    if (info.dims.length !== dims.length || info.dims.some((d, i) => d !== dims[i])) {
      throw new Error(`"${name}" is [${info.dims.join(', ')}], not [${dims.join(', ')}]`);
    }
    const data = file.view(name);
    return encoding === null
      ? { dims: [...dims], data: data as Float32Array }
      : halfTensorOf(dims, { bits: data as Uint16Array, encoding });
  };
  const required = (name: string, dims: readonly number[]): Tensor => {
    const t = tensor(name, dims);
    if (t === null) throw new Error(`"${name}" is marked absent`);
    return t;
  };
  const hasTie = TIE_VECTORS.some((k) => file.tensors.has(`tie.${k}`) || absent.has(`tie.${k}`));
  const vector = (k: (typeof TIE_VECTORS)[number], length: number): Float64Array | null => {
    const name = `tie.${k}`;
    if (absent.has(name)) return null;
    const info = file.tensors.get(name);
    if (info === undefined || info.dtype !== 'F64' || info.dims.length !== 1 || info.dims[0] !== length) {
      throw new Error(`"${name}" is missing or not F64 [${length}]`);
    }
    return file.view(name) as Float64Array;
  };
  const { d_model, d_vocab, d_vocab_out, n_ctx, n_heads, d_head, d_mlp } = cfg;
  const blocks: BlockWeights[] = [];
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `blocks.${l}.`;
    blocks.push({
      ln1_w: tensor(`${p}ln1_w`, [d_model]),
      ln1_b: tensor(`${p}ln1_b`, [d_model]),
      W_Q: required(`${p}W_Q`, [n_heads, d_model, d_head]),
      W_K: required(`${p}W_K`, [n_heads, d_model, d_head]),
      W_V: required(`${p}W_V`, [n_heads, d_model, d_head]),
      W_O: required(`${p}W_O`, [n_heads, d_head, d_model]),
      b_Q: required(`${p}b_Q`, [n_heads, d_head]),
      b_K: required(`${p}b_K`, [n_heads, d_head]),
      b_V: required(`${p}b_V`, [n_heads, d_head]),
      b_O: required(`${p}b_O`, [d_model]),
      ln2_w: tensor(`${p}ln2_w`, [d_model]),
      ln2_b: tensor(`${p}ln2_b`, [d_model]),
      W_in: required(`${p}W_in`, [d_model, d_mlp]),
      b_in: required(`${p}b_in`, [d_mlp]),
      W_out: required(`${p}W_out`, [d_mlp, d_model]),
      b_out: required(`${p}b_out`, [d_model]),
    });
  }
  const W_E = required('W_E', [d_vocab, d_model]);
  const base = {
    W_E,
    W_pos: required('W_pos', [n_ctx, d_model]),
    blocks,
    ln_final_w: tensor('ln_final_w', [d_model]),
    ln_final_b: tensor('ln_final_b', [d_model]),
    b_U: required('b_U', [d_vocab_out]),
  };
  if (!hasTie) return { ...base, W_U: required('W_U', [d_model, d_vocab_out]) };
  const tie: TiedUnembed = {
    scale: vector('scale', d_model),
    rowOffset: vector('rowOffset', d_vocab),
    columnShift: vector('columnShift', d_vocab),
    rowShift: vector('rowShift', d_model),
  };
  return { ...base, W_U: tiedW_U(W_E, tie), tiedUnembed: tie };
}

function gib(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}

function stringList(json: string | undefined): string[] {
  const v: unknown = JSON.parse(json ?? '[]');
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error('a warnings list is not a list of strings');
  return v;
}

/** Keeps the `maxEntries` most recently used entries (`keep` among them) and no dead temporary files. */
async function evict(dir: string, keep: string, maxEntries: number): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const now = Date.now();
  const entries: { path: string; used: number }[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const stat = await fs.stat(path).catch(() => null);
    if (stat === null || !stat.isFile()) continue;
    if (name.startsWith('.') && name.endsWith('.tmp')) {
      if (now - stat.mtimeMs > STALE_TMP_MS) await fs.rm(path, { force: true });
      continue;
    }
    if (name.endsWith('.safetensors') && path !== keep) entries.push({ path, used: stat.mtimeMs });
  }
  entries.sort((a, b) => b.used - a.used);
  for (const e of entries.slice(Math.max(0, maxEntries - 1))) await fs.rm(e.path, { force: true });
}
