// Loads a Hugging Face GPT-2 folder (config.json + model.safetensors) into TransformerLens's
// weight layout. Every expected tensor is checked by name and shape before use, and anything
// unexpected is refused by name, so a wrong or lying checkpoint fails loudly here instead of
// producing plausible-looking nonsense later.

import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { BlockWeights, GPT2Weights, HookedGPT2Config, Tensor } from '../types';
import { readSafetensors, type SafetensorsFile } from '../safetensors/read';
import type { SafetensorsDtype } from '../safetensors/dtypes';
import { CheckpointError, gpt2ConfigFromHF } from './config';
import { materialiseW_U, tiedW_U, UNPROCESSED_TIE } from '../tiedUnembed';
import { countNonFinite, type NonFiniteCount, type NonFiniteScan } from './nonFinite';

export { CheckpointError } from './config';
export { countNonFinite } from './nonFinite';

export interface LoadCheckpointOptions {
  /** cfg.model_name; defaults to the folder's name. */
  readonly modelName?: string;
  /**
   * Told how much of model.safetensors has been read: after the header and after each tensor, and
   * once more with done = total when every tensor used is in (tensors skipped, such as causal-mask
   * buffers or a tied lm_head, count as passed over).
   */
  readonly onRead?: (done: number, total: number) => void;
  /**
   * Handed each block as soon as its tensors are read (`cfg` as loaded); what it returns is kept
   * in the block's place. fromPretrained processes the block there (and, for fp16 or bf16, stores
   * it at 16 bits), so the float32 arrays of one block at a time are alive, not the model's.
   * `scan`: where onBlock records the NaN/Inf counts of the tensors onBlockScans names.
   */
  readonly onBlock?: (l: number, block: BlockWeights, cfg: HookedGPT2Config, scan: NonFiniteScan) => BlockWeights;
  /**
   * The block tensors whose NaN/Inf counts onBlock records in its `scan` as it reads them before
   * writing them (processBlock does, for processing.ts's blockTensorsScanned), so that the loader
   * does not read them again for its non-finite check; it counts every other tensor itself, before
   * onBlock sees it.
   */
  readonly onBlockScans?: (cfg: HookedGPT2Config) => ReadonlySet<keyof BlockWeights>;
}

/** What the loader found, for display and diagnostics. */
export interface CheckpointInfo {
  readonly folder: string;
  /** Stored dtype of the weights (the dtype of wte). */
  readonly dtype: SafetensorsDtype;
  /** Body keys carried the `transformer.` prefix. */
  readonly prefixed: boolean;
  /** No lm_head.weight: the unembedding is wte's transpose. */
  readonly tiedLmHead: boolean;
  /** config.json has the `model_lens_demo` marker: random weights, not a trained GPT-2. */
  readonly demo: boolean;
  /** Tensors with NaN or ±Inf values, by their name in the file (loaded anyway, as TransformerLens does). */
  readonly nonFinite: readonly NonFiniteTensor[];
}

export interface LoadedCheckpoint {
  readonly cfg: HookedGPT2Config;
  readonly weights: GPT2Weights;
  readonly info: CheckpointInfo;
  /** Lines for the user: the load succeeded but something is off (non-finite weights). */
  readonly warnings: readonly string[];
}

// Causal-mask buffers that some exports save with the weights; they carry no parameters.
const IGNORED = /^h\.\d+\.attn\.(bias|masked_bias)$/;
const PREFIX = 'transformer.';

export async function loadCheckpoint(folder: string, opts: LoadCheckpointOptions = {}): Promise<LoadedCheckpoint> {
  const configPath = join(folder, 'config.json');
  const weightsPath = join(folder, 'model.safetensors');
  let configText: string;
  try {
    configText = await fs.readFile(configPath, 'utf8');
  } catch (err) {
    throw new CheckpointError(`${configPath}: ${missingText(err, 'config.json')}`);
  }
  let configJson: unknown;
  try {
    configJson = JSON.parse(configText);
  } catch (err) {
    throw new CheckpointError(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  const cfg = gpt2ConfigFromHF(configJson, configPath, opts.modelName ?? defaultModelName(folder));
  try {
    await fs.access(weightsPath);
  } catch (err) {
    throw new CheckpointError(`${weightsPath}: ${missingText(err, 'model.safetensors')}`);
  }
  const file = await readSafetensors(weightsPath);
  const totalBytes = (await fs.stat(weightsPath)).size;
  // The header and its length prefix are read by now: everything before the first tensor's data.
  let bytesRead = totalBytes - [...file.tensors.values()].reduce((sum, t) => sum + (t.end - t.begin), 0);
  opts.onRead?.(bytesRead, totalBytes);
  const keys = resolveKeys(file, weightsPath);
  // Before anything is sized from config.json: a lying config (n_layer: 1000000) must fail here,
  // not after building a million layers' worth of expectations.
  checkConfigAgainstHeader(cfg, file, keys, configPath, weightsPath);
  const expected = expectedShapes(cfg);
  checkNamesAndShapes(file, keys, expected, weightsPath);

  // Which matrix unembeds follows transformers (see W_U below); known now, so the read-ahead knows
  // whether lm_head.weight is read.
  const tied = (configJson as Record<string, unknown>)['tie_word_embeddings'] !== false;
  if (!tied && !keys.has('lm_head.weight')) {
    throw new CheckpointError(`${folder}: config.json sets tie_word_embeddings false but model.safetensors has no "lm_head.weight"`);
  }
  // Reads run ahead of their use: the file is read in the thread pool while this thread checks,
  // splits and transposes what has come in (one after the other, the two took their sum).
  const order = readOrder(cfg.n_layers, tied);
  const reading = new Map<string, Promise<Float32Array>>();
  const startRead = (name: string): Promise<Float32Array> => {
    let p = reading.get(name);
    if (p === undefined) {
      p = file.getTensorF32(keys.get(name)!);
      // A failure surfaces where the tensor is awaited (get), not as an unhandled rejection if loading stopped earlier.
      p.catch(() => undefined);
      reading.set(name, p);
    }
    return p;
  };
  const nonFinite: NonFiniteTensor[] = [];
  const report = (name: string, count: NonFiniteCount): void => {
    if (count.nan + count.inf > 0) nonFinite.push({ name: keys.get(name)!, nan: count.nan, inf: count.inf });
  };
  // A block's large tensors are counted after onBlock when it counts them (onBlockScans), each
  // in its place in the read order; `checkLater` is set while a block's tensors are read.
  let checkLater: { name: string; count: NonFiniteCount | null }[] | null = null;
  const get = async (name: string, deferred = false): Promise<Float32Array> => {
    const stored = keys.get(name)!;
    const pending = startRead(name);
    const at = order.indexOf(name);
    for (let i = at + 1; at >= 0 && i <= at + READ_AHEAD && i < order.length; i++) void startRead(order[i]!);
    const data = await pending;
    reading.delete(name);
    const span = file.tensors.get(stored)!;
    bytesRead += span.end - span.begin;
    opts.onRead?.(bytesRead, totalBytes);
    if (checkLater === null) report(name, countNonFinite(data));
    else checkLater.push({ name, count: deferred ? null : countNonFinite(data) });
    return data;
  };
  const { d_model, n_heads, d_head, d_mlp, d_vocab, n_ctx } = cfg;

  // The embeddings are read first and used last: wte, the largest tensor (28% of the file at
  // gpt2-small's size), is read in the pool while the blocks are checked and processed, instead of
  // keeping this thread waiting for it before the first block.
  void startRead('wte.weight');
  void startRead('wpe.weight');

  const blocks: BlockWeights[] = [];
  const qkvScratch = new Float32Array(3 * d_model * d_model);
  const scanned: ReadonlySet<keyof BlockWeights> = (opts.onBlock && opts.onBlockScans?.(cfg)) || new Set();
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `h.${l}.`;
    checkLater = [];
    // The block tensors each large file tensor becomes, where onBlock counts all of them.
    const deferred = new Map<string, readonly (keyof BlockWeights)[]>();
    const later = async (name: string, parts: readonly (keyof BlockWeights)[]): Promise<Float32Array> => {
      const counted = parts.every((k) => scanned.has(k));
      if (counted) deferred.set(name, parts);
      return get(name, counted);
    };
    const cAttnW = await later(`${p}attn.c_attn.weight`, ['W_Q', 'W_K', 'W_V']); // [d_model, 3 * d_model]
    const cAttnB = await get(`${p}attn.c_attn.bias`); // [3 * d_model]
    const [W_Q, W_K, W_V] = splitQkvWeight(cAttnW, d_model, n_heads, d_head, qkvScratch);
    const [b_Q, b_K, b_V] = splitQkvBias(cAttnB, d_model, n_heads, d_head);
    const block: BlockWeights = {
      ln1_w: { dims: [d_model], data: await get(`${p}ln_1.weight`) },
      ln1_b: { dims: [d_model], data: await get(`${p}ln_1.bias`) },
      W_Q,
      W_K,
      W_V,
      b_Q,
      b_K,
      b_V,
      // HF Conv1D stores c_proj as [in, out] = [d_model (heads concatenated), d_model]: row
      // h * d_head + k is head h's k-th z component, so viewing the same row-major data as
      // [n_heads, d_head, d_model] is exactly TransformerLens's W_O; no copy needed.
      W_O: { dims: [n_heads, d_head, d_model], data: await later(`${p}attn.c_proj.weight`, ['W_O']) },
      b_O: { dims: [d_model], data: await get(`${p}attn.c_proj.bias`) },
      ln2_w: { dims: [d_model], data: await get(`${p}ln_2.weight`) },
      ln2_b: { dims: [d_model], data: await get(`${p}ln_2.bias`) },
      // Conv1D's [in, out] is already TransformerLens's right-multiplying layout for the MLP.
      W_in: { dims: [d_model, d_mlp], data: await later(`${p}mlp.c_fc.weight`, ['W_in']) },
      b_in: { dims: [d_mlp], data: await get(`${p}mlp.c_fc.bias`) },
      W_out: { dims: [d_mlp, d_model], data: await later(`${p}mlp.c_proj.weight`, ['W_out']) },
      b_out: { dims: [d_model], data: await get(`${p}mlp.c_proj.bias`) },
    };
    const scan: NonFiniteScan = new Map();
    blocks.push(opts.onBlock ? opts.onBlock(l, block, cfg, scan) : block);
    for (const { name, count } of checkLater) {
      const parts = deferred.get(name);
      if (parts === undefined) {
        report(name, count!);
        continue;
      }
      let nan = 0;
      let inf = 0;
      for (const k of parts) {
        const c = scan.get(block[k]!.data);
        if (c === undefined) throw new Error(`internal: onBlock did not count the non-finite values of ${k} (${name})`);
        nan += c.nan;
        inf += c.inf;
      }
      report(name, { nan, inf });
    }
    checkLater = null;
  }
  const W_E: Tensor = { dims: [d_vocab, d_model], data: await get('wte.weight') }; // [d_vocab, d_model]
  const W_pos: Tensor = { dims: [n_ctx, d_model], data: await get('wpe.weight') };
  const ln_final_w: Tensor = { dims: [d_model], data: await get('ln_f.weight') };
  const ln_final_b: Tensor = { dims: [d_model], data: await get('ln_f.bias') };
  // lm_head is an nn.Linear ([out, in] = [d_vocab, d_model]), unlike the Conv1D layers, and
  // TransformerLens right-multiplies by W_U [d_model, d_vocab], hence the transpose. Which
  // matrix unembeds follows transformers: with tie_word_embeddings (its default, true) the model
  // ties lm_head to wte after loading and a stored lm_head.weight is discarded, so we use wte
  // too; only an explicit `false` makes lm_head.weight count (and then it must be there).
  // GPT-2's unembedding has no bias: b_U is zero. Tied, W_U is not stored: it is wte's transpose
  // read through W_E (src/engine/tiedUnembed.ts), which saves a copy of the largest matrix.
  const b_U: Tensor = { dims: [d_vocab], data: new Float32Array(d_vocab) };
  const body: GPT2Weights = {
    W_E,
    W_pos,
    blocks,
    ln_final_w,
    ln_final_b,
    W_U: tied
      ? tiedW_U(W_E, UNPROCESSED_TIE)
      : { dims: [d_model, d_vocab], data: materialiseW_U(await get('lm_head.weight'), d_vocab, d_model, UNPROCESSED_TIE) }, // lm_head: [d_vocab, d_model], transposed
    b_U,
    ...(tied ? { tiedUnembed: UNPROCESSED_TIE } : {}),
  };

  if (bytesRead < totalBytes) opts.onRead?.(totalBytes, totalBytes);
  const demo = (configJson as Record<string, unknown>)['model_lens_demo'] === true;
  return {
    cfg,
    weights: body,
    info: {
      folder,
      dtype: file.tensors.get(keys.get('wte.weight')!)!.dtype,
      prefixed: keys.get('wte.weight')!.startsWith(PREFIX),
      tiedLmHead: tied,
      demo,
      nonFinite,
    },
    warnings: nonFinite.length > 0 ? [nonFiniteWarning(weightsPath, nonFinite)] : [],
  };
}

/** Tensor reads in flight beyond the one being awaited (each holds a file handle until read). */
const READ_AHEAD = 16;

/** The canonical names in the order loadCheckpoint uses them, which the read-ahead follows (the embeddings are started first). */
function readOrder(nLayers: number, tied: boolean): string[] {
  const names: string[] = [];
  for (let l = 0; l < nLayers; l++) {
    for (const t of ['attn.c_attn.weight', 'attn.c_attn.bias', 'ln_1.weight', 'ln_1.bias', 'attn.c_proj.weight', 'attn.c_proj.bias']) {
      names.push(`h.${l}.${t}`);
    }
    for (const t of ['ln_2.weight', 'ln_2.bias', 'mlp.c_fc.weight', 'mlp.c_fc.bias', 'mlp.c_proj.weight', 'mlp.c_proj.bias']) {
      names.push(`h.${l}.${t}`);
    }
  }
  names.push('wte.weight', 'wpe.weight', 'ln_f.weight', 'ln_f.bias');
  if (!tied) names.push('lm_head.weight');
  return names;
}

/** A tensor holding NaN or ±Inf values, and how many of each. */
export interface NonFiniteTensor {
  readonly name: string;
  readonly nan: number;
  readonly inf: number;
}

function nonFiniteWarning(path: string, tensors: readonly NonFiniteTensor[]): string {
  const shown = tensors
    .slice(0, 5)
    .map((t) => `"${t.name}" (${[t.nan > 0 ? `${t.nan} NaN` : '', t.inf > 0 ? `${t.inf} Inf` : ''].filter(Boolean).join(', ')})`)
    .join(', ');
  const more = tensors.length > 5 ? ` and ${tensors.length - 5} more` : '';
  return `${path}: ${tensors.length} tensor${tensors.length > 1 ? 's hold' : ' holds'} non-finite values: ${shown}${more}; activations and logits that depend on them will be NaN or Inf`;
}

/**
 * The sizes config.json states, checked against the shapes model.safetensors declares (whose
 * byte spans the reader already checked against the file's size), so that every size used to
 * allocate comes from the file itself. Names the config field that disagrees.
 */
export function checkConfigAgainstHeader(
  cfg: HookedGPT2Config,
  file: SafetensorsFile,
  keys: ReadonlyMap<string, string>,
  configPath: string,
  weightsPath: string,
): void {
  const dimsOf = (name: string): readonly number[] | undefined => {
    const key = keys.get(name);
    return key === undefined ? undefined : file.tensors.get(key)!.dims;
  };
  const disagree = (field: string, value: number, fact: string): CheckpointError =>
    new CheckpointError(`${configPath}: ${field} is ${value}, but ${weightsPath} ${fact}`);
  const wte = dimsOf('wte.weight');
  if (wte?.length === 2) {
    if (wte[0] !== cfg.d_vocab) throw disagree('vocab_size', cfg.d_vocab, `has "wte.weight" of shape [${wte.join(', ')}] (${wte[0]} rows)`);
    if (wte[1] !== cfg.d_model) throw disagree('n_embd', cfg.d_model, `has "wte.weight" of shape [${wte.join(', ')}] (width ${wte[1]})`);
  }
  const wpe = dimsOf('wpe.weight');
  if (wpe?.length === 2 && wpe[0] !== cfg.n_ctx) {
    throw disagree('n_positions', cfg.n_ctx, `has "wpe.weight" of shape [${wpe.join(', ')}] (${wpe[0]} positions)`);
  }
  let layers = 0;
  for (const name of keys.keys()) {
    const m = /^h\.(\d+)\./.exec(name);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  // Only more layers than the file has is refused here (it is what would size work from the config
  // alone); fewer, and the file's extra tensors are named as unexpected by the shape check.
  if (cfg.n_layers > layers) {
    throw disagree(
      'n_layer',
      cfg.n_layers,
      layers === 0 ? 'has no layer tensors ("h.N.…")' : `has tensors for ${layers} layer${layers > 1 ? 's' : ''} (h.0 … h.${layers - 1})`,
    );
  }
  const fc = dimsOf('h.0.mlp.c_fc.weight');
  // fc[0] === d_model: a width that disagrees, not a transposed tensor (the shape check names that one).
  if (fc?.length === 2 && fc[0] === cfg.d_model && fc[1] !== cfg.d_mlp) {
    throw disagree('n_inner', cfg.d_mlp, `has "h.0.mlp.c_fc.weight" of shape [${fc.join(', ')}] (MLP width ${fc[1]})`);
  }
}

/** Maps canonical (unprefixed) names to the file's keys, dropping the mask buffers. */
function resolveKeys(file: SafetensorsFile, path: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const key of file.tensors.keys()) {
    const canonical = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
    if (IGNORED.test(canonical)) continue;
    const prev = keys.get(canonical);
    if (prev !== undefined) {
      throw new CheckpointError(`${path}: tensor "${canonical}" appears twice ("${prev}" and "${key}")`);
    }
    keys.set(canonical, key);
  }
  return keys;
}

/** Every tensor a GPT-2 checkpoint must have, with its Hugging Face shape (Conv1D: [in, out]). */
export function expectedShapes(cfg: HookedGPT2Config): Map<string, number[]> {
  const { d_model: d, d_mlp, d_vocab, n_ctx } = cfg;
  const m = new Map<string, number[]>([
    ['wte.weight', [d_vocab, d]],
    ['wpe.weight', [n_ctx, d]],
  ]);
  for (let l = 0; l < cfg.n_layers; l++) {
    const p = `h.${l}.`;
    m.set(`${p}ln_1.weight`, [d]);
    m.set(`${p}ln_1.bias`, [d]);
    m.set(`${p}attn.c_attn.weight`, [d, 3 * d]);
    m.set(`${p}attn.c_attn.bias`, [3 * d]);
    m.set(`${p}attn.c_proj.weight`, [d, d]);
    m.set(`${p}attn.c_proj.bias`, [d]);
    m.set(`${p}ln_2.weight`, [d]);
    m.set(`${p}ln_2.bias`, [d]);
    m.set(`${p}mlp.c_fc.weight`, [d, d_mlp]);
    m.set(`${p}mlp.c_fc.bias`, [d_mlp]);
    m.set(`${p}mlp.c_proj.weight`, [d_mlp, d]);
    m.set(`${p}mlp.c_proj.bias`, [d]);
  }
  m.set('ln_f.weight', [d]);
  m.set('ln_f.bias', [d]);
  return m;
}

function checkNamesAndShapes(file: SafetensorsFile, keys: Map<string, string>, expected: Map<string, number[]>, path: string): void {
  const shapeText = (dims: readonly number[]): string => `[${dims.join(', ')}]`;
  for (const [name, dims] of expected) {
    const key = keys.get(name);
    if (key === undefined) {
      throw new CheckpointError(`${path}: missing tensor "${name}" (expected shape ${shapeText(dims)})`);
    }
    const got = file.tensors.get(key)!.dims;
    if (got.length !== dims.length || got.some((x, i) => x !== dims[i])) {
      throw new CheckpointError(`${path}: tensor "${key}" has shape ${shapeText(got)}, expected ${shapeText(dims)}`);
    }
  }
  const lmHead = keys.get('lm_head.weight');
  if (lmHead !== undefined) {
    const want = expected.get('wte.weight')!;
    const got = file.tensors.get(lmHead)!.dims;
    if (got.length !== 2 || got[0] !== want[0] || got[1] !== want[1]) {
      throw new CheckpointError(`${path}: tensor "lm_head.weight" has shape ${shapeText(got)}, expected ${shapeText(want)}`);
    }
  }
  const unexpected = [...keys.keys()].filter((k) => !expected.has(k) && k !== 'lm_head.weight');
  if (unexpected.length > 0) {
    const shown = unexpected
      .slice(0, 5)
      .map((k) => `"${keys.get(k)}"`)
      .join(', ');
    throw new CheckpointError(
      `${path}: unexpected tensor${unexpected.length > 1 ? 's' : ''} ${shown}${unexpected.length > 5 ? ', …' : ''} (not a GPT-2 of this config?)`,
    );
  }
}

/**
 * HF Conv1D stores c_attn as [in, out] = [d_model, 3 * d_model]: the output columns are Q, K
 * and V side by side, and within each, head h owns columns h * d_head .. (h + 1) * d_head.
 * TransformerLens keeps one [d_model, d_head] matrix per head: W_X[h, m, k] = c_attn[m, X * d_model + h * d_head + k].
 *
 * Rearranged in place, through `scratch` (at least w.length floats, reused across layers): W_Q,
 * W_K and W_V are views of thirds of `w`'s buffer. New arrays would be 85 MB of fresh pages at
 * gpt2-small's size, and a fresh page costs a fault (most of a load's time on a small VM).
 */
export function splitQkvWeight(
  w: Float32Array,
  d_model: number,
  n_heads: number,
  d_head: number,
  scratch: Float32Array = new Float32Array(w.length),
): [Tensor, Tensor, Tensor] {
  const n = n_heads * d_model * d_head;
  if (w.length !== 3 * n || scratch.length < w.length) throw new Error('internal: splitQkvWeight sizes');
  scratch.set(w);
  for (let x = 0; x < 3; x++) {
    for (let h = 0; h < n_heads; h++) {
      for (let m = 0; m < d_model; m++) {
        const src = m * 3 * d_model + x * d_model + h * d_head;
        w.set(scratch.subarray(src, src + d_head), x * n + (h * d_model + m) * d_head);
      }
    }
  }
  const view = (x: number): Tensor => ({ dims: [n_heads, d_model, d_head], data: w.subarray(x * n, (x + 1) * n) });
  return [view(0), view(1), view(2)];
}

/** c_attn.bias [3 * d_model] -> b_Q, b_K, b_V [n_heads, d_head], the same column order as the weight. */
export function splitQkvBias(b: Float32Array, d_model: number, n_heads: number, d_head: number): [Tensor, Tensor, Tensor] {
  const out: Tensor[] = [];
  for (let x = 0; x < 3; x++) {
    out.push({ dims: [n_heads, d_head], data: b.slice(x * d_model, (x + 1) * d_model) });
  }
  return out as [Tensor, Tensor, Tensor];
}

function missingText(err: unknown, what: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `${what} not found (a GPT-2 folder needs config.json and model.safetensors)`;
  return `cannot read ${what} (${(err as Error).message})`;
}

/**
 * The folder's name; for a Hugging Face cache snapshot (models--ORG--NAME/snapshots/<commit>)
 * the repository's NAME instead, since the folder's own name is a commit hash.
 */
export function defaultModelName(folder: string): string {
  const name = basename(folder);
  const snapshots = dirname(folder);
  if (/^[0-9a-f]{40}$/.test(name) && basename(snapshots) === 'snapshots') {
    const repo = /^models--(.+)$/.exec(basename(dirname(snapshots)));
    if (repo) return repo[1]!.split('--').pop()!;
  }
  return name;
}
