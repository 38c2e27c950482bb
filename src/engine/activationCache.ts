// The result of runWithCache, with the helpers TransformerLens users reach for
// (transformer_lens.ActivationCache): lookup by full hook name or by get_act_name's shorthand,
// the accumulated residual stream (logit lens), the residual stream decomposed by component,
// per-head results, the final LayerNorm applied to a stack using the cached scale, and logit
// attribution. Names, labels, shapes and meaning follow TransformerLens so numbers and plots can
// be cross-checked against Python. Every cached tensor keeps its batch dimension.

import type { GPT2Weights, HookedGPT2Config, Tensor } from './types';
import type { SafetensorsTensorToWrite } from './safetensors/write';

/**
 * A position selection, as TransformerLens's Slice: a number picks one position and drops the
 * pos dimension (negative counts from the end), [start, stop] is a half-open range (stop may be
 * omitted or negative), a list of numbers picks those positions. Undefined keeps all.
 */
export type PosSlice = number | readonly [number, number?] | { readonly indices: readonly number[] };

export interface StackResult {
  /** [components, batch, pos, d_model] (pos dropped when pos_slice is a number). */
  readonly stack: Tensor;
  readonly labels: string[];
}

export interface AccumulatedResidOptions {
  readonly incl_mid?: boolean;
  readonly apply_ln?: boolean;
  readonly pos_slice?: PosSlice;
  /** Include resid_mid of `layer` itself: the stream as the MLP of that layer reads it. */
  readonly mlp_input?: boolean;
}

export interface DecomposeResidOptions {
  readonly mode?: 'all' | 'mlp' | 'attn';
  readonly incl_embeds?: boolean;
  readonly apply_ln?: boolean;
  readonly pos_slice?: PosSlice;
  readonly mlp_input?: boolean;
}

export interface StackHeadResultsOptions {
  readonly pos_slice?: PosSlice;
  readonly apply_ln?: boolean;
  /** Append resid_post[layer - 1] minus the heads' sum, labelled 'remainder'. */
  readonly incl_remainder?: boolean;
}

/** Token ids: one id, one per batch element, or [batch][pos]. */
export type TokenSelection = number | readonly number[] | readonly (readonly number[])[];

// utils.get_act_name's aliases and groupings, so shorthand resolves as in TransformerLens.
const ACT_ALIASES: Record<string, string> = {
  attn: 'pattern',
  attn_logits: 'attn_scores',
  key: 'k',
  query: 'q',
  value: 'v',
  mlp_pre: 'pre',
  mlp_mid: 'mid',
  mlp_post: 'post',
};
const ATTN_ACTS = new Set(['k', 'v', 'q', 'z', 'rot_k', 'rot_q', 'result', 'pattern', 'attn_scores']);
const MLP_ACTS = new Set(['pre', 'post', 'mid', 'pre_linear']);
const LAYER_TYPE_ALIASES: Record<string, string> = { a: 'attn', m: 'mlp', b: '', block: '', blocks: '', attention: 'attn' };
const LN_ACTS = new Set(['scale', 'normalized']);

/**
 * TransformerLens's utils.get_act_name: ('pattern', 0) -> 'blocks.0.attn.hook_pattern',
 * ('scale', 1, 'ln2') -> 'blocks.1.ln2.hook_scale', ('scale') -> 'ln_final.hook_scale',
 * ('embed') -> 'hook_embed', 'pattern3' -> 'blocks.3.attn.hook_pattern'. A full name passes through.
 */
export function getActName(name: string, layer?: number, layerType?: string): string {
  if ((name.includes('.') || name.startsWith('hook_')) && layer === undefined && layerType === undefined) return name;
  let n = name;
  let l = layer;
  let lt = layerType;
  const short = /^([a-z]+)(\d+)([a-z]?.*)$/.exec(n);
  if (short && l === undefined) {
    n = short[1]!;
    l = Number(short[2]);
    lt = short[3] || lt;
  }
  n = ACT_ALIASES[n] ?? n;
  let full = l !== undefined ? `blocks.${l}.` : '';
  if (ATTN_ACTS.has(n)) lt = 'attn';
  else if (MLP_ACTS.has(n)) lt = 'mlp';
  else if (lt !== undefined && lt in LAYER_TYPE_ALIASES) lt = LAYER_TYPE_ALIASES[lt];
  if (lt) full += `${lt}.`;
  full += `hook_${n}`;
  if (LN_ACTS.has(n) && l === undefined) full = `ln_final.${full}`;
  return full;
}

export class ActivationCache {
  private readonly acts: ReadonlyMap<string, Tensor>;
  private readonly computedResults = new Map<number, Tensor>();

  /** `weights` (the processed weights the run used) enable head results from hook_z and logit attribution. */
  constructor(
    acts: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
    readonly cfg: HookedGPT2Config,
    private readonly weights?: GPT2Weights,
  ) {
    this.acts = acts instanceof Map ? acts : new Map(Object.entries(acts));
  }

  /** Hook names in the order they were cached. */
  names(): string[] {
    return [...this.acts.keys()];
  }

  get size(): number {
    return this.acts.size;
  }

  has(name: string): boolean {
    return this.acts.has(name);
  }

  get(name: string): Tensor {
    const t = this.acts.get(name);
    if (!t) {
      const sample = this.names().slice(0, 4).join(', ');
      throw new Error(
        `ActivationCache: "${name}" was not cached (${this.acts.size} cached${sample ? `: ${sample}${this.acts.size > 4 ? ', …' : ''}` : ''}); include it in the names filter`,
      );
    }
    return t;
  }

  /** Lookup by TransformerLens shorthand: act('pattern', 0), act('scale', 1, 'ln2'), act('resid_post', 11). */
  act(name: string, layer?: number, layerType?: string): Tensor {
    return this.get(getActName(name, layer, layerType));
  }

  /**
   * The residual stream before each layer up to `layer` (default: all, plus the final resid_post),
   * labelled '0_pre', '0_mid' (incl_mid), …, 'final_post'. TransformerLens's accumulated_resid.
   */
  accumulatedResid(layer?: number, opts: AccumulatedResidOptions = {}): StackResult {
    const L = this.resolveLayer(layer);
    const n = this.cfg.n_layers;
    const parts: Tensor[] = [];
    const labels: string[] = [];
    for (let l = 0; l <= L; l++) {
      if (l === n) {
        parts.push(this.act('resid_post', n - 1));
        labels.push('final_post');
        continue;
      }
      parts.push(this.act('resid_pre', l));
      labels.push(`${l}_pre`);
      if ((opts.incl_mid && l < L) || (opts.mlp_input && l === L)) {
        parts.push(this.act('resid_mid', l));
        labels.push(`${l}_mid`);
      }
    }
    return this.finishStack(parts, labels, L, opts.pos_slice, opts.apply_ln, opts.mlp_input);
  }

  /**
   * What was added to the residual stream before `layer` (default: all layers), one component
   * each: 'embed', 'pos_embed', '0_attn_out', '0_mlp_out', …. Sums to resid_pre[layer].
   */
  decomposeResid(layer?: number, opts: DecomposeResidOptions = {}): StackResult {
    const L = this.resolveLayer(layer);
    const mode = opts.mode ?? 'all';
    const inclAttn = mode !== 'mlp';
    const inclMlp = mode !== 'attn';
    const parts: Tensor[] = [];
    const labels: string[] = [];
    if (opts.incl_embeds ?? true) {
      parts.push(this.get('hook_embed'), this.get('hook_pos_embed'));
      labels.push('embed', 'pos_embed');
    }
    for (let l = 0; l < L; l++) {
      if (inclAttn) {
        parts.push(this.act('attn_out', l));
        labels.push(`${l}_attn_out`);
      }
      if (inclMlp) {
        parts.push(this.act('mlp_out', l));
        labels.push(`${l}_mlp_out`);
      }
    }
    if (opts.mlp_input && inclAttn) {
      parts.push(this.act('attn_out', L));
      labels.push(`${L}_attn_out`);
    }
    return this.finishStack(parts, labels, L, opts.pos_slice, opts.apply_ln, opts.mlp_input);
  }

  /**
   * Each head's write to the residual stream (without b_O) for every layer before `layer`,
   * labelled 'L0H0', 'L0H1', …. From hook_result when cached, else computed as z @ W_O per head.
   */
  stackHeadResults(layer?: number, opts: StackHeadResultsOptions = {}): StackResult {
    const L = this.resolveLayer(layer);
    const { n_heads: H } = this.cfg;
    const parts: Tensor[] = [];
    const labels: string[] = [];
    for (let l = 0; l < L; l++) {
      const result = sliceAxis(this.headResult(l), 1, opts.pos_slice); // [batch, pos, head, d_model]
      for (let h = 0; h < H; h++) {
        parts.push(sliceAxis(result, result.dims.length - 2, h));
        labels.push(`L${l}H${h}`);
      }
    }
    if (opts.incl_remainder) {
      if (L === 0) throw new Error('stackHeadResults: incl_remainder needs layer >= 1');
      const post = sliceAxis(this.act('resid_post', L - 1), 1, opts.pos_slice);
      const rem = Float32Array.from(post.data);
      for (const p of parts) for (let i = 0; i < rem.length; i++) rem[i] -= p.data[i]!;
      parts.push({ dims: post.dims, data: rem });
      labels.push('remainder');
    }
    if (parts.length === 0) {
      const like = sliceAxis(this.get('hook_embed'), 1, opts.pos_slice);
      return { stack: { dims: [0, ...like.dims], data: new Float32Array(0) }, labels };
    }
    const stack = stackTensors(parts);
    return { stack: opts.apply_ln ? this.applyLnToStack(stack, L, opts.pos_slice) : stack, labels };
  }

  /**
   * LayerNorm's normalisation as the model applied it, for a stack [components, batch, pos,
   * d_model]: centre each vector, then divide by the scale cached for that LayerNorm (ln_final
   * for layer n_layers or undefined, else blocks.L.ln1, or ln2 with mlpInput). Using the cached
   * scale of the full residual makes the components add up to the real normalised stream.
   * No LN weights are applied: with fold_ln they already live in the following weights.
   */
  applyLnToStack(stack: Tensor, layer?: number, posSlice?: PosSlice, mlpInput = false): Tensor {
    const L = this.resolveLayer(layer);
    const scaleName = L === this.cfg.n_layers ? 'ln_final.hook_scale' : getActName('scale', L, mlpInput ? 'ln2' : 'ln1');
    const scale = sliceAxis(this.get(scaleName), 1, posSlice); // [batch, pos, 1]
    const d = stack.dims[stack.dims.length - 1]!;
    const middle = stack.dims.slice(1, -1);
    const scaleLead = scale.dims.slice(0, -1);
    if (middle.length !== scaleLead.length || middle.some((x, i) => x !== scaleLead[i])) {
      throw new Error(
        `applyLnToStack: stack [${stack.dims.join(', ')}] does not match ${scaleName} [${scale.dims.join(', ')}] (after pos_slice)`,
      );
    }
    const per = scale.data.length;
    const out = new Float32Array(stack.data.length);
    for (let v = 0; v * d < stack.data.length; v++) {
      const base = v * d;
      let mean = 0;
      for (let i = 0; i < d; i++) mean += stack.data[base + i]!;
      mean /= d;
      const s = scale.data[v % per]!;
      for (let i = 0; i < d; i++) out[base + i] = (stack.data[base + i]! - mean) / s;
    }
    return { dims: stack.dims, data: out };
  }

  /**
   * How much each component of a stack [components, ...batch/pos, d_model] pushes the logit of
   * `tokens` (minus that of `incorrectTokens`): the final LayerNorm applied with the cached scale,
   * then a dot product with W_U's column. `tokens` dims must match the stack's trailing batch/pos
   * dims (one id for all, [batch] for a stack sliced to one position, [batch][pos]).
   */
  logitAttrs(stack: Tensor, tokens: TokenSelection, incorrectTokens?: TokenSelection, posSlice?: PosSlice): Tensor {
    const W_U = this.requireWeights('logitAttrs').W_U; // [d_model, d_vocab]
    const [d, V] = W_U.dims as [number, number];
    const tok = flattenTokens(tokens, V, 'tokens');
    const bad = incorrectTokens === undefined ? null : flattenTokens(incorrectTokens, V, 'incorrectTokens');
    if (bad && (bad.dims.length !== tok.dims.length || bad.dims.some((x, i) => x !== tok.dims[i]))) {
      throw new Error(`logitAttrs: tokens [${tok.dims.join(', ')}] and incorrectTokens [${bad.dims.join(', ')}] differ in shape`);
    }
    const scaled = this.applyLnToStack(stack, this.cfg.n_layers, posSlice);
    const lead = stack.dims.slice(1, -1);
    const tail = lead.slice(lead.length - tok.dims.length);
    if (tok.dims.length > lead.length || tail.some((x, i) => x !== tok.dims[i])) {
      throw new Error(`logitAttrs: tokens [${tok.dims.join(', ')}] do not match the stack's [${lead.join(', ')}]`);
    }
    const nVec = stack.data.length / d;
    const nTok = tok.ids.length;
    const out = new Float32Array(nVec);
    for (let v = 0; v < nVec; v++) {
      const t = tok.ids[v % nTok]!;
      const u = bad ? bad.ids[v % nTok]! : -1;
      let s = 0;
      for (let m = 0; m < d; m++) {
        const dir = W_U.data[m * V + t]! - (u >= 0 ? W_U.data[m * V + u]! : 0);
        s += scaled.data[v * d + m]! * dir;
      }
      out[v] = s;
    }
    return { dims: stack.dims.slice(0, -1), data: out };
  }

  /** Every cached activation under its TransformerLens name, F32, batch dimension kept. */
  toSafetensorsTensors(): SafetensorsTensorToWrite[] {
    return [...this.acts].map(([name, t]) => ({ name, dims: t.dims, dtype: 'F32' as const, data: t.data }));
  }

  private headResult(l: number): Tensor {
    const cached = this.acts.get(getActName('result', l));
    if (cached) return cached;
    const memo = this.computedResults.get(l);
    if (memo) return memo;
    const W_O = this.requireWeights('stackHeadResults (hook_result was not cached)').blocks[l]!.W_O; // [head, d_head, d_model]
    const z = this.act('z', l); // [batch, pos, head, d_head]
    const [B, P, H, dh] = z.dims as [number, number, number, number];
    const d = W_O.dims[2]!;
    const out = new Float32Array(B * P * H * d); // [batch, pos, head, d_model]
    for (let bp = 0; bp < B * P; bp++) {
      for (let h = 0; h < H; h++) {
        const zBase = (bp * H + h) * dh;
        const oBase = (bp * H + h) * d;
        for (let k = 0; k < dh; k++) {
          const zv = z.data[zBase + k]!;
          const wBase = (h * dh + k) * d;
          for (let m = 0; m < d; m++) out[oBase + m] += zv * W_O.data[wBase + m]!;
        }
      }
    }
    const result: Tensor = { dims: [B, P, H, d], data: out };
    this.computedResults.set(l, result);
    return result;
  }

  private finishStack(
    parts: Tensor[],
    labels: string[],
    layer: number,
    posSlice: PosSlice | undefined,
    applyLn: boolean | undefined,
    mlpInput: boolean | undefined,
  ): StackResult {
    const stack = stackTensors(parts.map((t) => sliceAxis(t, 1, posSlice)));
    return { stack: applyLn ? this.applyLnToStack(stack, layer, posSlice, mlpInput) : stack, labels };
  }

  /** undefined and -1 mean n_layers (the stream before the unembedding), as in TransformerLens. */
  private resolveLayer(layer: number | undefined): number {
    if (layer === undefined || layer === -1) return this.cfg.n_layers;
    if (!Number.isInteger(layer) || layer < 0 || layer > this.cfg.n_layers) {
      throw new Error(`ActivationCache: layer ${layer} is outside 0..${this.cfg.n_layers}`);
    }
    return layer;
  }

  private requireWeights(what: string): GPT2Weights {
    if (!this.weights) throw new Error(`ActivationCache: ${what} needs the model's weights; pass them to the constructor`);
    return this.weights;
  }
}

/** Picks positions along one axis (see PosSlice); a number removes the axis. */
export function sliceAxis(t: Tensor, axis: number, slice: PosSlice | undefined): Tensor {
  if (slice === undefined) return t;
  const n = t.dims[axis]!;
  const norm = (i: number): number => {
    const j = i < 0 ? n + i : i;
    if (!Number.isInteger(j) || j < 0 || j >= n) throw new Error(`position ${i} is outside 0..${n - 1}`);
    return j;
  };
  let idx: number[];
  let keepAxis = true;
  if (typeof slice === 'number') {
    idx = [norm(slice)];
    keepAxis = false;
  } else if ('indices' in slice) {
    idx = slice.indices.map(norm);
  } else {
    const clamp = (i: number): number => Math.min(n, Math.max(0, i < 0 ? n + i : i));
    const start = clamp(slice[0]);
    const stop = slice[1] === undefined ? n : clamp(slice[1]);
    idx = [];
    for (let i = start; i < stop; i++) idx.push(i);
  }
  const outer = t.dims.slice(0, axis).reduce((a, x) => a * x, 1);
  const inner = t.dims.slice(axis + 1).reduce((a, x) => a * x, 1);
  const out = new Float32Array(outer * idx.length * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < idx.length; k++) {
      const src = (o * n + idx[k]!) * inner;
      out.set(t.data.subarray(src, src + inner), (o * idx.length + k) * inner);
    }
  }
  const dims = [...t.dims.slice(0, axis), ...(keepAxis ? [idx.length] : []), ...t.dims.slice(axis + 1)];
  return { dims, data: out };
}

/** Stacks equal-shaped tensors along a new first axis. */
export function stackTensors(parts: readonly Tensor[]): Tensor {
  const first = parts[0]!;
  const size = first.data.length;
  const out = new Float32Array(parts.length * size);
  parts.forEach((p, i) => {
    if (p.dims.length !== first.dims.length || p.dims.some((x, j) => x !== first.dims[j])) {
      throw new Error(`cannot stack [${p.dims.join(', ')}] with [${first.dims.join(', ')}]`);
    }
    out.set(p.data, i * size);
  });
  return { dims: [parts.length, ...first.dims], data: out };
}

function flattenTokens(tokens: TokenSelection, V: number, what: string): { dims: number[]; ids: number[] } {
  let dims: number[];
  let ids: number[];
  if (typeof tokens === 'number') {
    dims = [];
    ids = [tokens];
  } else if (tokens.length > 0 && Array.isArray(tokens[0])) {
    const rows = tokens as readonly (readonly number[])[];
    const width = rows[0]!.length;
    if (rows.some((r) => r.length !== width)) throw new Error(`logitAttrs: ${what} rows differ in length`);
    dims = [rows.length, width];
    ids = rows.flat();
  } else {
    dims = [tokens.length];
    ids = [...(tokens as readonly number[])];
  }
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`logitAttrs: ${what} has id ${id}, outside 0..${V - 1}`);
  }
  return { dims, ids };
}
