// A deterministic random GPT-2 in the Hugging Face format (config.json + model.safetensors).
// It is the project's fixture and built-in demo model: no weights can be downloaded here, yet
// every code path (loader, processing, graph, hooks) needs a real checkpoint to chew on. It keeps
// GPT-2's real vocabulary and context so the tokenizer and positions are the real ones, and is
// small in width and depth. Every parameter is non-trivial (LayerNorm weights away from 1,
// non-zero biases) so a mistake in folding or mapping shows up as a numeric difference, and the
// scales keep activations O(1) and attention softmaxes away from one-hot or uniform.

import { promises as fs } from 'node:fs';
import { renameOver } from '../common/renameOver';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writeSafetensors, type SafetensorsTensorToEncode } from './safetensors/write';
import type { FloatDtype } from './safetensors/dtypes';

export interface TinyGpt2Options {
  /**
   * Shape preset; explicit n_layer/n_embd/n_head/n_inner override it. 'gpt2-small' is the real 124M
   * shape (about 500 MB in F32), 'gpt2-medium' the real 355M shape (about 1.4 GB in F32),
   * 'gpt2-xl' the real 1.56B shape (about 6.4 GB in F32 with the causal-mask buffers).
   */
  readonly preset?: 'tiny' | 'gpt2-small' | 'gpt2-medium' | 'gpt2-xl';
  readonly n_layer?: number;
  readonly n_embd?: number;
  readonly n_head?: number;
  /** MLP width; null or absent writes `n_inner: null` (GPT-2's default of 4 * n_embd). */
  readonly n_inner?: number | null;
  readonly seed?: number;
  readonly dtype?: FloatDtype;
  /** Prefix the body's keys with `transformer.` (as GPT2LMHeadModel.save_pretrained did in some versions). */
  readonly prefix?: boolean;
  /** Leave out lm_head.weight, so the loader must tie it to wte (as the released gpt2 files do). */
  readonly tiedLmHead?: boolean;
}

export const GPT2_VOCAB_SIZE = 50257;
export const GPT2_N_POSITIONS = 1024;
/** Bumped whenever the generated weights change, so cached demo models are regenerated. */
export const TINY_GPT2_VERSION = 1;

interface Shape {
  n_layer: number;
  n_embd: number;
  n_head: number;
  n_inner: number | null;
}

const PRESETS: Record<NonNullable<TinyGpt2Options['preset']>, Shape> = {
  tiny: { n_layer: 2, n_embd: 64, n_head: 4, n_inner: null },
  'gpt2-small': { n_layer: 12, n_embd: 768, n_head: 12, n_inner: null },
  'gpt2-medium': { n_layer: 24, n_embd: 1024, n_head: 16, n_inner: null },
  'gpt2-xl': { n_layer: 48, n_embd: 1600, n_head: 25, n_inner: null },
};

export interface GeneratedGpt2 {
  readonly dir: string;
  /** The config.json written, as an object. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** Writes config.json and model.safetensors into `dir` (created if needed). */
export async function generateTinyGpt2(dir: string, opts: TinyGpt2Options = {}): Promise<GeneratedGpt2> {
  const shape = resolveShape(opts);
  const seed = opts.seed ?? 0;
  const dtype = opts.dtype ?? 'F32';
  const d = shape.n_embd;
  const dMlp = shape.n_inner ?? 4 * d;
  const V = GPT2_VOCAB_SIZE;
  const P = GPT2_N_POSITIONS;
  const body = opts.prefix ? 'transformer.' : '';

  const tensors: SafetensorsTensorToEncode[] = [];
  // Each tensor has its own stream seeded from (seed, unprefixed name): values do not depend on
  // the order of generation nor on the key style, and are produced only when the writer reaches
  // them (streaming).
  const add = (name: string, dims: number[], fill: (rng: () => number, n: number) => Float32Array): void => {
    const n = dims.reduce((a, x) => a * x, 1);
    const key = name.startsWith(body) ? name.slice(body.length) : name;
    tensors.push({ name, dims, dtype, data: () => fill(normalStream(seed, key), n) });
  };
  const gaussian =
    (std: number, mean = 0) =>
    (rng: () => number, n: number): Float32Array => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = mean + std * rng();
      return out;
    };

  // Embedding std 2/sqrt(d): the tied unembedding then gives logits with std about 2, a
  // softmax over 50,257 tokens that is neither flat nor one-hot.
  add(`${body}wte.weight`, [V, d], gaussian(2 / Math.sqrt(d)));
  add(`${body}wpe.weight`, [P, d], gaussian(1 / Math.sqrt(d)));
  for (let l = 0; l < shape.n_layer; l++) {
    const h = `${body}h.${l}.`;
    add(`${h}ln_1.weight`, [d], gaussian(0.2, 1));
    add(`${h}ln_1.bias`, [d], gaussian(0.1));
    // The causal-mask buffers real checkpoints carry; the loader must skip them.
    tensors.push({ name: `${h}attn.bias`, dims: [1, 1, P, P], dtype, data: () => causalMask(P) });
    tensors.push({ name: `${h}attn.masked_bias`, dims: [], dtype, data: new Float32Array([-1e4]) });
    // Weights with std 1/sqrt(fan_in) keep each layer's output O(1); attention scores
    // q.k/sqrt(d_head) then have std about 1.
    add(`${h}attn.c_attn.weight`, [d, 3 * d], gaussian(1 / Math.sqrt(d)));
    add(`${h}attn.c_attn.bias`, [3 * d], gaussian(0.1));
    add(`${h}attn.c_proj.weight`, [d, d], gaussian(1 / Math.sqrt(d)));
    add(`${h}attn.c_proj.bias`, [d], gaussian(0.1));
    add(`${h}ln_2.weight`, [d], gaussian(0.2, 1));
    add(`${h}ln_2.bias`, [d], gaussian(0.1));
    add(`${h}mlp.c_fc.weight`, [d, dMlp], gaussian(1 / Math.sqrt(d)));
    add(`${h}mlp.c_fc.bias`, [dMlp], gaussian(0.1));
    add(`${h}mlp.c_proj.weight`, [dMlp, d], gaussian(1 / Math.sqrt(dMlp)));
    add(`${h}mlp.c_proj.bias`, [d], gaussian(0.1));
  }
  add(`${body}ln_f.weight`, [d], gaussian(0.2, 1));
  add(`${body}ln_f.bias`, [d], gaussian(0.1));
  if (!opts.tiedLmHead) add('lm_head.weight', [V, d], gaussian(2 / Math.sqrt(d)));

  const config: Record<string, unknown> = {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0.1,
    bos_token_id: 50256,
    embd_pdrop: 0.1,
    eos_token_id: 50256,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: P,
    n_embd: d,
    n_head: shape.n_head,
    n_inner: shape.n_inner,
    n_layer: shape.n_layer,
    n_positions: P,
    resid_pdrop: 0.1,
    // transformers ties lm_head to wte unless this is false, discarding a stored lm_head.weight.
    tie_word_embeddings: opts.tiedLmHead === true,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
    vocab_size: V,
    // Marks random weights so the UI can say so instead of presenting them as GPT-2.
    model_lens_demo: true,
    model_lens_seed: seed,
    model_lens_version: TINY_GPT2_VERSION,
  };

  await fs.mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  await fs.writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  return { dir, config };
}

/**
 * The built-in demo model: generated once under `cacheDir` and reused. A concurrent caller
 * either finds the finished folder or generates its own copy and loses the rename race harmlessly.
 */
export async function ensureTinyGpt2(cacheDir: string, opts: TinyGpt2Options = {}): Promise<string> {
  const shape = resolveShape(opts);
  const key = [
    `v${TINY_GPT2_VERSION}`,
    `L${shape.n_layer}`,
    `d${shape.n_embd}`,
    `h${shape.n_head}`,
    `m${shape.n_inner ?? 'auto'}`,
    `s${opts.seed ?? 0}`,
    (opts.dtype ?? 'F32').toLowerCase(),
    opts.prefix ? 'prefix' : 'noprefix',
    opts.tiedLmHead ? 'tied' : 'untied',
  ].join('-');
  const target = join(cacheDir, `tiny-gpt2-${key}`);
  if (await isComplete(target)) return target;
  await fs.mkdir(cacheDir, { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await generateTinyGpt2(tmp, opts);
    try {
      await renameOver(tmp, target);
    } catch (err) {
      // Another process finished first (rename onto a non-empty folder fails): use theirs.
      if (!(await isComplete(target))) throw err;
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return target;
}

async function isComplete(dir: string): Promise<boolean> {
  try {
    await fs.access(join(dir, 'config.json'));
    await fs.access(join(dir, 'model.safetensors'));
    return true;
  } catch {
    return false;
  }
}

function resolveShape(opts: TinyGpt2Options): Shape {
  const base = PRESETS[opts.preset ?? 'tiny'];
  const shape: Shape = {
    n_layer: opts.n_layer ?? base.n_layer,
    n_embd: opts.n_embd ?? base.n_embd,
    n_head: opts.n_head ?? base.n_head,
    n_inner: opts.n_inner === undefined ? base.n_inner : opts.n_inner,
  };
  for (const [k, v] of Object.entries(shape)) {
    if (v !== null && (!Number.isSafeInteger(v) || v <= 0)) throw new Error(`generateTinyGpt2: ${k} must be a positive integer, got ${v}`);
  }
  if (shape.n_embd % shape.n_head !== 0) {
    throw new Error(`generateTinyGpt2: n_embd ${shape.n_embd} is not divisible by n_head ${shape.n_head}`);
  }
  return shape;
}

/** [1, 1, P, P] lower-triangular ones, GPT-2's `attn.bias` buffer. */
function causalMask(P: number): Float32Array {
  const m = new Float32Array(P * P);
  for (let i = 0; i < P; i++) m.fill(1, i * P, i * P + i + 1);
  return m;
}

/** Standard normal samples from mulberry32 (seeded by seed and name) through Box-Muller. */
function normalStream(seed: number, name: string): () => number {
  let state = hash32(`${seed}:${name}`);
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = 1 - uniform(); // (0, 1]: log stays finite
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** FNV-1a, to turn a tensor's name into a seed. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
