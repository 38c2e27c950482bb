// The oracle's own view of a Hugging Face GPT-2 folder: config.json and model.safetensors
// mapped to TransformerLens's parameter layout in float64, and TransformerLens's weight
// processing (fold_ln, center_writing_weights, center_unembed, fold_value_biases) redone
// here from its definitions. Nothing is imported from src/engine except plain types.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessingOptions } from '../../src/engine/types';
import { readSafetensorsRaw, type RawTensor } from './safetensorsRaw';

/** A float64 tensor, row-major. */
export interface T64 {
  readonly dims: readonly number[];
  readonly data: Float64Array;
}

export interface RefConfig {
  readonly n_layers: number;
  readonly d_model: number;
  readonly n_heads: number;
  readonly d_head: number;
  readonly d_mlp: number;
  readonly d_vocab: number;
  readonly n_ctx: number;
  readonly eps: number;
  /**
   * Hugging Face's tie_word_embeddings (default true): when set, GPT2LMHeadModel ties lm_head to
   * wte after loading, so an lm_head.weight in the file is not what runs.
   */
  readonly tie_word_embeddings: boolean;
}

export interface RefBlock {
  ln1_w: T64 | null; // [d_model]; null once folded
  ln1_b: T64 | null; // [d_model]
  W_Q: T64; // [n_heads, d_model, d_head]
  W_K: T64;
  W_V: T64;
  b_Q: T64; // [n_heads, d_head]
  b_K: T64;
  b_V: T64;
  W_O: T64; // [n_heads, d_head, d_model]
  b_O: T64; // [d_model]
  ln2_w: T64 | null;
  ln2_b: T64 | null;
  W_in: T64; // [d_model, d_mlp]
  b_in: T64; // [d_mlp]
  W_out: T64; // [d_mlp, d_model]
  b_out: T64; // [d_model]
}

export interface RefWeights {
  W_E: T64; // [d_vocab, d_model]
  W_pos: T64; // [n_ctx, d_model]
  blocks: RefBlock[];
  ln_final_w: T64 | null; // [d_model]
  ln_final_b: T64 | null;
  W_U: T64; // [d_model, d_vocab]
  b_U: T64; // [d_vocab]
}

export interface RefModel {
  readonly cfg: RefConfig;
  readonly weights: RefWeights;
}

/** Reads config.json and model.safetensors from a Hugging Face GPT-2 folder, unprocessed. */
export function loadReferenceModel(dir: string): RefModel {
  const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const num = (key: string, fallback?: number): number => {
    const v = hf[key];
    if (typeof v === 'number') return v;
    if (fallback !== undefined) return fallback;
    throw new Error(`${dir}/config.json: ${key} missing`);
  };
  const d_model = num('n_embd');
  const n_heads = num('n_head');
  const cfg: RefConfig = {
    n_layers: num('n_layer'),
    d_model,
    n_heads,
    d_head: d_model / n_heads,
    d_mlp: typeof hf.n_inner === 'number' ? hf.n_inner : 4 * d_model,
    d_vocab: num('vocab_size'),
    n_ctx: num('n_positions', num('n_ctx', 1024)),
    eps: num('layer_norm_epsilon', 1e-5),
    tie_word_embeddings: hf.tie_word_embeddings !== false,
  };
  const raw = readSafetensorsRaw(join(dir, 'model.safetensors'));
  return { cfg, weights: convertGpt2Weights(raw, cfg) };
}

/**
 * Hugging Face GPT-2 → TransformerLens layout (TL's convert_gpt2_weights). GPT-2 uses Conv1D,
 * whose weight is stored [in, out] (the transpose of nn.Linear), so c_attn.weight is
 * [d_model, 3*d_model] with Q|K|V side by side and heads contiguous inside each third.
 */
export function convertGpt2Weights(raw: Map<string, RawTensor>, cfg: RefConfig): RefWeights {
  const { d_model, n_heads, d_head, d_mlp, d_vocab, n_ctx } = cfg;
  const prefix = raw.has('transformer.wte.weight') ? 'transformer.' : '';
  const get = (key: string, shape: number[]): Float64Array => {
    const t = raw.get(prefix + key) ?? raw.get(key);
    if (!t) throw new Error(`checkpoint lacks ${prefix}${key}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`checkpoint ${prefix}${key} has shape [${t.shape}], expected [${shape}]`);
    }
    return t.data;
  };
  const t = (dims: number[], data: Float64Array): T64 => ({ dims, data });

  const blocks: RefBlock[] = [];
  for (let l = 0; l < cfg.n_layers; l++) {
    const h = `h.${l}.`;
    const cAttnW = get(`${h}attn.c_attn.weight`, [d_model, 3 * d_model]); // [d_model, 3*d_model]
    const cAttnB = get(`${h}attn.c_attn.bias`, [3 * d_model]);
    // TL: W_Q[i, m, e] = c_attn.weight[m, which*d_model + i*d_head + e]
    const splitW = (which: number): T64 => {
      const out = new Float64Array(n_heads * d_model * d_head);
      for (let i = 0; i < n_heads; i++)
        for (let m = 0; m < d_model; m++)
          for (let e = 0; e < d_head; e++) out[(i * d_model + m) * d_head + e] = cAttnW[m * 3 * d_model + which * d_model + i * d_head + e];
      return t([n_heads, d_model, d_head], out);
    };
    const splitB = (which: number): T64 => t([n_heads, d_head], cAttnB.slice(which * d_model, (which + 1) * d_model));
    blocks.push({
      ln1_w: t([d_model], get(`${h}ln_1.weight`, [d_model])),
      ln1_b: t([d_model], get(`${h}ln_1.bias`, [d_model])),
      W_Q: splitW(0),
      W_K: splitW(1),
      W_V: splitW(2),
      b_Q: splitB(0),
      b_K: splitB(1),
      b_V: splitB(2),
      // c_proj.weight is [(head d_head), d_model]: already W_O's row-major layout.
      W_O: t([n_heads, d_head, d_model], get(`${h}attn.c_proj.weight`, [d_model, d_model]).slice()),
      b_O: t([d_model], get(`${h}attn.c_proj.bias`, [d_model]).slice()),
      ln2_w: t([d_model], get(`${h}ln_2.weight`, [d_model])),
      ln2_b: t([d_model], get(`${h}ln_2.bias`, [d_model])),
      W_in: t([d_model, d_mlp], get(`${h}mlp.c_fc.weight`, [d_model, d_mlp]).slice()),
      b_in: t([d_mlp], get(`${h}mlp.c_fc.bias`, [d_mlp]).slice()),
      W_out: t([d_mlp, d_model], get(`${h}mlp.c_proj.weight`, [d_mlp, d_model]).slice()),
      b_out: t([d_model], get(`${h}mlp.c_proj.bias`, [d_model]).slice()),
    });
  }

  const wte = get('wte.weight', [d_vocab, d_model]); // [d_vocab, d_model]
  // lm_head is nn.Linear ([d_vocab, d_model]); W_U is its transpose. TL reads the HF model's
  // lm_head after HF tied it to wte (tie_word_embeddings), so a tied model uses wte whatever the file holds.
  const lmHead = cfg.tie_word_embeddings ? wte : raw.get('lm_head.weight')?.data;
  if (!lmHead) throw new Error('checkpoint lacks lm_head.weight and config.json sets tie_word_embeddings=false');
  if (lmHead.length !== d_vocab * d_model) throw new Error(`lm_head.weight has ${lmHead.length} elements, expected ${d_vocab * d_model}`);
  const W_U = new Float64Array(d_model * d_vocab);
  for (let v = 0; v < d_vocab; v++) for (let m = 0; m < d_model; m++) W_U[m * d_vocab + v] = lmHead[v * d_model + m];

  return {
    W_E: t([d_vocab, d_model], wte.slice()),
    W_pos: t([n_ctx, d_model], get('wpe.weight', [n_ctx, d_model]).slice()),
    blocks,
    ln_final_w: t([d_model], get('ln_f.weight', [d_model])),
    ln_final_b: t([d_model], get('ln_f.bias', [d_model])),
    W_U: t([d_model, d_vocab], W_U),
    b_U: t([d_vocab], new Float64Array(d_vocab)), // GPT-2 has no unembed bias; TL uses zeros
  };
}

/**
 * TransformerLens's from_pretrained processing, in its order: fold_layer_norm (which also
 * centres the weights reading from the now parameter-free LayerNormPre), center_writing_weights,
 * center_unembed, fold_value_biases. Returns new weights; the input is not modified.
 * Read from weight_processing.py@v3.5.1 (ProcessWeights): fold_layer_norm :1058,
 * center_writing_weights :1097, center_unembed :1309, fold_value_biases :1367, called from
 * HookedTransformer.py:1708-1718 after :1691-1696 swap LN for LayerNormPre.
 * Every one of the 16 combinations is allowed for GPT-2 (LN): centring and center_unembed run
 * with or without fold_ln (weight_processing.py:1582-1611), with no warning.
 */
export function processReferenceWeights(w: RefWeights, cfg: RefConfig, opts: ProcessingOptions): RefWeights {
  let out = cloneWeights(w);
  if (opts.fold_ln) out = foldLayerNorm(out, cfg);
  if (opts.center_writing_weights) centerWritingWeights(out, cfg);
  if (opts.center_unembed) centerUnembed(out, cfg);
  if (opts.fold_value_biases) {
    foldValueBiases(out, cfg);
    // weight_processing.py:1613-1627: with centring on, b_O is centred again after the fold
    // (a no-op in exact arithmetic, since W_O is already centred).
    if (opts.center_writing_weights) for (const b of out.blocks) centreLastAxis(b.b_O.data, cfg.d_model);
  }
  return out;
}

function foldLayerNorm(w: RefWeights, cfg: RefConfig): RefWeights {
  const { d_model, n_heads, d_head, d_mlp, d_vocab } = cfg;
  for (const b of w.blocks) {
    const lw = need(b.ln1_w, 'ln1.w').data;
    const lb = need(b.ln1_b, 'ln1.b').data;
    for (const [W, bias] of [
      [b.W_Q, b.b_Q],
      [b.W_K, b.b_K],
      [b.W_V, b.b_V],
    ] as const) {
      // b += sum_m W[i, m, e] * ln.b[m]; then W[i, m, e] *= ln.w[m]; then centre W over d_model.
      for (let i = 0; i < n_heads; i++)
        for (let e = 0; e < d_head; e++) {
          let s = 0;
          for (let m = 0; m < d_model; m++) s += W.data[(i * d_model + m) * d_head + e] * lb[m];
          bias.data[i * d_head + e] += s;
          for (let m = 0; m < d_model; m++) W.data[(i * d_model + m) * d_head + e] *= lw[m];
        }
      centreRows(W.data, n_heads, d_model, d_head);
    }
    foldInto(b.W_in.data, b.b_in.data, need(b.ln2_w, 'ln2.w').data, need(b.ln2_b, 'ln2.b').data, d_model, d_mlp);
    b.ln1_w = b.ln1_b = b.ln2_w = b.ln2_b = null;
  }
  foldInto(w.W_U.data, w.b_U.data, need(w.ln_final_w, 'ln_final.w').data, need(w.ln_final_b, 'ln_final.b').data, d_model, d_vocab);
  w.ln_final_w = w.ln_final_b = null;
  return w;
}

/** Folds a LayerNorm (lw, lb) into the [rows=d_model, cols] matrix W and bias that read its output, then centres W over d_model. */
function foldInto(W: Float64Array, bias: Float64Array, lw: Float64Array, lb: Float64Array, rows: number, cols: number): void {
  for (let c = 0; c < cols; c++) {
    let s = 0;
    for (let m = 0; m < rows; m++) s += W[m * cols + c] * lb[m];
    bias[c] += s;
  }
  for (let m = 0; m < rows; m++) for (let c = 0; c < cols; c++) W[m * cols + c] *= lw[m];
  centreRows(W, 1, rows, cols);
}

/** For each of `outer` [rows, cols] slabs, subtracts the mean over rows from every column. */
function centreRows(W: Float64Array, outer: number, rows: number, cols: number): void {
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += W[(o * rows + r) * cols + c];
      const mean = s / rows;
      for (let r = 0; r < rows; r++) W[(o * rows + r) * cols + c] -= mean;
    }
}

/** Subtracts from each length-`len` run of `data` its own mean (a mean over the last axis). */
function centreLastAxis(data: Float64Array, len: number): void {
  for (let o = 0; o < data.length; o += len) {
    let s = 0;
    for (let k = 0; k < len; k++) s += data[o + k];
    const mean = s / len;
    for (let k = 0; k < len; k++) data[o + k] -= mean;
  }
}

/** Everything that writes to the residual stream gets zero mean over d_model. */
function centerWritingWeights(w: RefWeights, cfg: RefConfig): void {
  const { d_model } = cfg;
  centreLastAxis(w.W_E.data, d_model);
  centreLastAxis(w.W_pos.data, d_model);
  for (const b of w.blocks) {
    centreLastAxis(b.W_O.data, d_model);
    centreLastAxis(b.b_O.data, d_model);
    centreLastAxis(b.W_out.data, d_model);
    centreLastAxis(b.b_out.data, d_model);
  }
}

/** Softmax is shift-invariant, so W_U and b_U get zero mean over the vocabulary. */
function centerUnembed(w: RefWeights, cfg: RefConfig): void {
  centreLastAxis(w.W_U.data, cfg.d_vocab);
  centreLastAxis(w.b_U.data, cfg.d_vocab);
}

/** Patterns sum to 1, so b_V's effect is constant: b_O += sum_{head, e} b_V[head, e] * W_O[head, e, :]; b_V = 0. */
function foldValueBiases(w: RefWeights, cfg: RefConfig): void {
  const { d_model, n_heads, d_head } = cfg;
  for (const b of w.blocks) {
    for (let i = 0; i < n_heads; i++)
      for (let e = 0; e < d_head; e++) {
        const bv = b.b_V.data[i * d_head + e];
        for (let m = 0; m < d_model; m++) b.b_O.data[m] += bv * b.W_O.data[(i * d_head + e) * d_model + m];
      }
    b.b_V.data.fill(0);
  }
}

function need(x: T64 | null, name: string): T64 {
  if (!x) throw new Error(`${name} is already folded`);
  return x;
}

function cloneT(x: T64): T64 {
  return { dims: [...x.dims], data: x.data.slice() };
}
function cloneN(x: T64 | null): T64 | null {
  return x ? cloneT(x) : null;
}

function cloneWeights(w: RefWeights): RefWeights {
  return {
    W_E: cloneT(w.W_E),
    W_pos: cloneT(w.W_pos),
    blocks: w.blocks.map((b) => ({
      ln1_w: cloneN(b.ln1_w),
      ln1_b: cloneN(b.ln1_b),
      W_Q: cloneT(b.W_Q),
      W_K: cloneT(b.W_K),
      W_V: cloneT(b.W_V),
      b_Q: cloneT(b.b_Q),
      b_K: cloneT(b.b_K),
      b_V: cloneT(b.b_V),
      W_O: cloneT(b.W_O),
      b_O: cloneT(b.b_O),
      ln2_w: cloneN(b.ln2_w),
      ln2_b: cloneN(b.ln2_b),
      W_in: cloneT(b.W_in),
      b_in: cloneT(b.b_in),
      W_out: cloneT(b.W_out),
      b_out: cloneT(b.b_out),
    })),
    ln_final_w: cloneN(w.ln_final_w),
    ln_final_b: cloneN(w.ln_final_b),
    W_U: cloneT(w.W_U),
    b_U: cloneT(w.b_U),
  };
}
