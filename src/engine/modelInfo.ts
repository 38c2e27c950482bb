// The model as TransformerLens shows it before any text goes in: the config as
// `print(model.cfg)` prints it, the parameters as `model.named_parameters()` lists them (and so
// the count `sum(p.numel() for p in model.parameters())`), and the module tree as
// `print(model)` nests it, each hook point with its shape for a given token count.
// Everything here needs only the config: no weights are read. No vscode, no onnxruntime.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, gpt2ConfigFromHF } from './checkpoint/config';
import { defaultModelName } from './checkpoint/load';
import { hookShape, listHookPoints, symbolicShape, type HookDecl, type HookDim } from './hookPoints';
import type { WeightDtype } from './weightDtype';
import {
  DEFAULT_TL_VERSION,
  type ExecutionProviderName,
  type GPT2Weights,
  type HookedGPT2Config,
  type Tensor,
  type TransformerLensVersion,
} from './types';

// ---------------------------------------------------------------------------------------------
// The config a loaded model would have, from config.json alone

export interface InfoOptions {
  /** from_pretrained (fold_ln and friends) when true, from_pretrained_no_processing when false. */
  readonly processing: boolean;
  readonly tlVersion?: TransformerLensVersion;
}

/**
 * Reads a checkpoint folder's config.json (never the weights) and returns the config the engine
 * would load it with: the same model_name as HookedGPT2.fromPretrained, LNPre when fold_ln runs.
 */
export async function readModelConfig(folder: string, opts: InfoOptions): Promise<HookedGPT2Config> {
  const path = join(folder, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new CheckpointError(`${path}: ${err instanceof SyntaxError ? `not valid JSON (${err.message})` : (err as Error).message}`);
  }
  return configForMode(gpt2ConfigFromHF(json, path, defaultModelName(folder)), opts);
}

/** A checkpoint's config as processing leaves it: fold_ln turns LayerNorm into LayerNormPre. */
export function configForMode(cfg: HookedGPT2Config, opts: InfoOptions): HookedGPT2Config {
  return {
    ...cfg,
    normalization_type: opts.processing ? 'LNPre' : cfg.normalization_type,
    transformer_lens_version: opts.tlVersion ?? cfg.transformer_lens_version ?? DEFAULT_TL_VERSION,
  };
}

// ---------------------------------------------------------------------------------------------
// Parameters

/** A dimension name of a weight: TransformerLens's names, or a number for a fixed size. */
export type WeightDim = 'd_vocab' | 'd_vocab_out' | 'n_ctx' | 'd_model' | 'head_index' | 'd_head' | 'd_mlp';

export interface ParameterInfo {
  /** TransformerLens's state_dict name, e.g. `blocks.0.attn.W_Q`. */
  readonly name: string;
  readonly dimNames: readonly WeightDim[];
  readonly shape: readonly number[];
  readonly numel: number;
}

type ParamCfg = Pick<
  HookedGPT2Config,
  'n_layers' | 'd_model' | 'n_heads' | 'd_head' | 'd_mlp' | 'd_vocab' | 'd_vocab_out' | 'n_ctx' | 'normalization_type'
>;

function weightDimSize(d: WeightDim, cfg: ParamCfg): number {
  switch (d) {
    case 'd_vocab':
      return cfg.d_vocab;
    case 'd_vocab_out':
      return cfg.d_vocab_out;
    case 'n_ctx':
      return cfg.n_ctx;
    case 'd_model':
      return cfg.d_model;
    case 'head_index':
      return cfg.n_heads;
    case 'd_head':
      return cfg.d_head;
    case 'd_mlp':
      return cfg.d_mlp;
    default: {
      const exhaustive: never = d;
      throw new Error(`unknown weight dimension ${String(exhaustive)}`);
    }
  }
}

/**
 * Every parameter of HookedTransformer for GPT-2, in `named_parameters()` order (each module's
 * parameters in the order its constructor assigns them). LayerNormPre (after fold_ln) has no
 * parameters, so `ln1.w`/`ln1.b`, `ln2.*` and `ln_final.*` exist only under 'LN'. Attention
 * assigns W_Q, W_O, b_Q, b_O in its base class and W_K, W_V, b_K, b_V in the subclass
 * (components/abstract_attention.py and attention.py @v3.5.1), hence the interleaved order.
 * Causal-mask buffers are not parameters. fold_value_biases and the centering steps change
 * values, never which parameters exist.
 */
export function listParameters(cfg: ParamCfg): ParameterInfo[] {
  const out: ParameterInfo[] = [];
  const add = (name: string, dimNames: WeightDim[]): void => {
    const shape = dimNames.map((d) => weightDimSize(d, cfg));
    out.push({ name, dimNames, shape, numel: shape.reduce((a, b) => a * b, 1) });
  };
  const layerNorm = (prefix: string): void => {
    if (cfg.normalization_type !== 'LN') return;
    add(`${prefix}.w`, ['d_model']);
    add(`${prefix}.b`, ['d_model']);
  };
  add('embed.W_E', ['d_vocab', 'd_model']);
  add('pos_embed.W_pos', ['n_ctx', 'd_model']);
  for (let L = 0; L < cfg.n_layers; L++) {
    const p = `blocks.${L}`;
    layerNorm(`${p}.ln1`);
    layerNorm(`${p}.ln2`);
    add(`${p}.attn.W_Q`, ['head_index', 'd_model', 'd_head']);
    add(`${p}.attn.W_O`, ['head_index', 'd_head', 'd_model']);
    add(`${p}.attn.b_Q`, ['head_index', 'd_head']);
    add(`${p}.attn.b_O`, ['d_model']);
    add(`${p}.attn.W_K`, ['head_index', 'd_model', 'd_head']);
    add(`${p}.attn.W_V`, ['head_index', 'd_model', 'd_head']);
    add(`${p}.attn.b_K`, ['head_index', 'd_head']);
    add(`${p}.attn.b_V`, ['head_index', 'd_head']);
    add(`${p}.mlp.W_in`, ['d_model', 'd_mlp']);
    add(`${p}.mlp.b_in`, ['d_mlp']);
    add(`${p}.mlp.W_out`, ['d_mlp', 'd_model']);
    add(`${p}.mlp.b_out`, ['d_model']);
  }
  layerNorm('ln_final');
  add('unembed.W_U', ['d_model', 'd_vocab_out']);
  add('unembed.b_U', ['d_vocab_out']);
  return out;
}

/** `sum(p.numel() for p in model.parameters())`: 163,049,041 for gpt2 with fold_ln. */
export function countParameters(cfg: ParamCfg): number {
  return listParameters(cfg).reduce((sum, p) => sum + p.numel, 0);
}

/**
 * HookedTransformerConfig.n_params: attention and MLP weight matrices only, no embeddings,
 * biases or LayerNorm (hooked_transformer_config.py __post_init__ @v3.5.1). 84,934,656 for gpt2.
 */
export function nParamsOfConfig(cfg: Pick<HookedGPT2Config, 'n_layers' | 'd_model' | 'd_head' | 'n_heads' | 'd_mlp'>): number {
  return cfg.n_layers * (cfg.d_model * cfg.d_head * cfg.n_heads * 4) + cfg.n_layers * cfg.d_model * cfg.d_mlp * 2;
}

/**
 * The tensors the engine really holds, under TransformerLens's names: what a loaded model's
 * parameter count is made of. A null LayerNorm weight (folded) is left out, as LayerNormPre has none.
 */
export function namedWeights(w: GPT2Weights): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  const put = (name: string, t: Tensor | null): void => {
    if (t !== null) out.push([name, t]);
  };
  put('embed.W_E', w.W_E);
  put('pos_embed.W_pos', w.W_pos);
  w.blocks.forEach((b, L) => {
    const p = `blocks.${L}`;
    put(`${p}.ln1.w`, b.ln1_w);
    put(`${p}.ln1.b`, b.ln1_b);
    put(`${p}.ln2.w`, b.ln2_w);
    put(`${p}.ln2.b`, b.ln2_b);
    put(`${p}.attn.W_Q`, b.W_Q);
    put(`${p}.attn.W_O`, b.W_O);
    put(`${p}.attn.b_Q`, b.b_Q);
    put(`${p}.attn.b_O`, b.b_O);
    put(`${p}.attn.W_K`, b.W_K);
    put(`${p}.attn.W_V`, b.W_V);
    put(`${p}.attn.b_K`, b.b_K);
    put(`${p}.attn.b_V`, b.b_V);
    put(`${p}.mlp.W_in`, b.W_in);
    put(`${p}.mlp.b_in`, b.b_in);
    put(`${p}.mlp.W_out`, b.W_out);
    put(`${p}.mlp.b_out`, b.b_out);
  });
  put('ln_final.w', w.ln_final_w);
  put('ln_final.b', w.ln_final_b);
  put('unembed.W_U', w.W_U);
  put('unembed.b_U', w.b_U);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Config as `print(model.cfg)` shows it

/** A Python value as pprint would show it; `repr` is for values with no JSON form (torch.float32). */
export type PyValue = string | number | boolean | null | { readonly repr: string; readonly json: string };

export interface TlConfigOptions {
  /** The engine's execution provider; shown as the torch device it stands for (webgpu as cpu). */
  readonly provider?: ExecutionProviderName;
  /** The weights' dtype (ModelOptions.dtype), shown as the torch dtype TransformerLens's `dtype` argument sets; fp32 when absent. */
  readonly dtype?: WeightDtype;
}

const TORCH_DTYPE: Readonly<Record<WeightDtype, string>> = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' };

/** The torch dtype name TransformerLens's `dtype` argument gives for a weight dtype: 'float32', 'float16', 'bfloat16'. */
export function torchDtypeName(dtype: WeightDtype = 'fp32'): string {
  return TORCH_DTYPE[dtype];
}

/**
 * HookedTransformerConfig's `to_dict()` for a GPT-2 loaded by `from_pretrained` (or
 * `from_pretrained_no_processing`): every dataclass field of TransformerLensConfig and
 * HookedTransformerConfig @v3.5.1, with the values GPT-2's loading path gives them
 * (loading_from_pretrained.py convert_hf_model_config / get_pretrained_model_config, the
 * defaults otherwise, __post_init__'s derived attn_scale, initializer_range and n_params),
 * sorted by key as pprint sorts them.
 * Notes: normalization_type is LNPre after fold_ln; layer_norm_folding stays False (v3.5.1's
 * from_pretrained never sets it); tokenizer_prepends_bos is False (GPT-2's tokenizer adds no BOS
 * itself; TransformerLens prepends it); the device stands for the execution provider.
 */
export function transformerLensConfig(cfg: HookedGPT2Config, opts: TlConfigOptions = {}): [string, PyValue][] {
  const device = opts.provider === 'cuda' ? 'cuda' : 'cpu';
  const py = (repr: string, json: string): PyValue => ({ repr, json });
  const fields: Record<string, PyValue> = {
    NTK_by_parts_factor: 8.0,
    NTK_by_parts_high_freq_factor: 4.0,
    NTK_by_parts_low_freq_factor: 1.0,
    NTK_original_ctx_len: 8192,
    act_fn: cfg.act_fn,
    attention_dir: 'causal',
    attn_only: false,
    attn_scale: Math.sqrt(cfg.d_head),
    attn_scores_soft_cap: -1.0,
    attn_types: null,
    checkpoint_index: null,
    checkpoint_label_type: null,
    checkpoint_value: null,
    d_head: cfg.d_head,
    d_mlp: cfg.d_mlp,
    d_model: cfg.d_model,
    d_vocab: cfg.d_vocab,
    d_vocab_out: cfg.d_vocab_out,
    decoder_start_token_id: null,
    default_prepend_bos: true,
    device: py(`device(type='${device}')`, device),
    dtype: py(`torch.${torchDtypeName(opts.dtype)}`, torchDtypeName(opts.dtype)),
    eps: cfg.eps,
    experts_per_token: null,
    final_rms: false,
    from_checkpoint: false,
    gated_mlp: false,
    init_mode: 'gpt2',
    init_weights: false,
    initializer_range: 0.8 / Math.sqrt(cfg.d_model),
    layer_norm_folding: false,
    load_in_4bit: false,
    model_name: cfg.model_name,
    n_ctx: cfg.n_ctx,
    n_devices: 1,
    n_heads: cfg.n_heads,
    n_key_value_heads: null,
    n_layers: cfg.n_layers,
    n_params: nParamsOfConfig(cfg),
    norm_topk_prob: false,
    normalization_type: cfg.normalization_type,
    num_experts: null,
    original_architecture: 'GPT2LMHeadModel',
    output_logits_soft_cap: -1.0,
    parallel_attn_mlp: false,
    positional_embedding_type: 'standard',
    post_embedding_ln: false,
    relative_attention_max_distance: null,
    relative_attention_num_buckets: null,
    rotary_adjacent_pairs: false,
    rotary_base: 10000,
    rotary_base_local: null,
    rotary_dim: null,
    rotary_scaling_factor: 1.0,
    scale_attn_by_inverse_layer_idx: false,
    seed: null,
    tie_word_embeddings: false,
    tokenizer_name: cfg.model_name,
    tokenizer_prepends_bos: false,
    trust_remote_code: false,
    ungroup_grouped_query_attention: false,
    use_NTK_by_parts_rope: false,
    use_attn_in: cfg.use_attn_in,
    use_attn_result: cfg.use_attn_result,
    use_attn_scale: true,
    use_hook_mlp_in: cfg.use_hook_mlp_in,
    use_hook_tokens: false,
    use_local_attn: false,
    use_normalization_before_and_after: false,
    use_qk_norm: false,
    use_split_qkv_input: cfg.use_split_qkv_input,
    use_yarn_rope: false,
    uses_rms_norm: false,
    window_size: null,
    yarn_attention_factor: 1.0,
    yarn_beta_fast: 32.0,
    yarn_beta_slow: 1.0,
    yarn_factor: 1.0,
    yarn_original_max_position_embeddings: 4096,
  };
  // Keys are ASCII, so code-unit order is Python's str order.
  return Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Config fields whose Python type is float: printed with a decimal point (8.0, not 8). */
const FLOAT_FIELDS = new Set([
  'NTK_by_parts_factor',
  'NTK_by_parts_high_freq_factor',
  'NTK_by_parts_low_freq_factor',
  'attn_scale',
  'attn_scores_soft_cap',
  'eps',
  'initializer_range',
  'output_logits_soft_cap',
  'rotary_scaling_factor',
  'yarn_attention_factor',
  'yarn_beta_fast',
  'yarn_beta_slow',
  'yarn_factor',
]);

/** Python's repr of a float: shortest round-trip digits, exponent form below 1e-4 or from 1e16. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** One value as pprint shows it. */
export function pyRepr(key: string, v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (typeof v === 'number') return FLOAT_FIELDS.has(key) ? pyFloatRepr(v) : String(v);
  return v.repr;
}

/** `print(model.cfg)`: "HookedTransformerConfig:" then pprint's one-key-a-line dict. */
export function formatTransformerLensConfig(entries: readonly [string, PyValue][]): string {
  const lines = entries.map(([k, v], i) => `${i === 0 ? '{' : ' '}'${k}': ${pyRepr(k, v)}${i === entries.length - 1 ? '}' : ','}`);
  return `HookedTransformerConfig:\n${lines.join('\n')}\n`;
}

/** The config as a JSON object (Python-only values as their plain names: "float32", "cpu"). */
export function configAsJson(entries: readonly [string, PyValue][]): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of entries) out[k] = v !== null && typeof v === 'object' ? v.json : v;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Module tree as `print(model)` nests it

export interface HookNode {
  readonly kind: 'hook';
  /** Attribute name inside its module, e.g. `hook_pattern`. */
  readonly attr: string;
  /** The full hook name, e.g. `blocks.0.attn.hook_pattern`. */
  readonly name: string;
  readonly dims: readonly HookDim[];
  /** For the token count asked for, batch 1. */
  readonly shape: readonly number[];
  /** Exists as a module but fires only when its config flag is on (use_attn_result, …). */
  readonly gated: boolean;
}

export interface ModuleNode {
  readonly kind: 'module';
  readonly attr: string;
  /** Full dotted path ('' for the root). */
  readonly path: string;
  /** The TransformerLens class: HookedTransformer, Embed, LayerNormPre, Attention, … */
  readonly className: string;
  readonly children: readonly (ModuleNode | HookNode)[];
  /** The module's own parameters, by attribute (W_Q, …), with shapes. */
  readonly parameters: readonly ParameterInfo[];
}

/** Every flag that adds a hook point, on: gives the full set of HookPoint modules TransformerLens creates. */
function allHooksConfig(cfg: HookedGPT2Config): HookedGPT2Config {
  return { ...cfg, use_attn_result: true, use_split_qkv_input: true, use_attn_in: true, use_hook_mlp_in: true };
}

/**
 * HookedTransformer's module tree for GPT-2. Every HookPoint module TransformerLens creates is
 * listed; the ones the current flags leave silent are marked `gated` (they are shaped as when
 * their flag is on). Hooks that fire have the current config's shapes for `pos` tokens.
 */
export function moduleTree(cfg: HookedGPT2Config, pos: number): ModuleNode {
  const live = new Map(listHookPoints(cfg).map((h) => [h.name, h] as const));
  const every = listHookPoints(allHooksConfig(cfg));
  const hooksUnder = new Map<string, HookNode[]>();
  for (const decl of every) {
    const at = decl.name.lastIndexOf('.');
    const parent = at < 0 ? '' : decl.name.slice(0, at);
    const liveDecl: HookDecl | undefined = live.get(decl.name);
    const used = liveDecl ?? decl;
    const node: HookNode = {
      kind: 'hook',
      attr: decl.name.slice(at + 1),
      name: decl.name,
      dims: used.dims,
      shape: hookShape(used, liveDecl ? cfg : allHooksConfig(cfg), pos),
      gated: liveDecl === undefined,
    };
    const list = hooksUnder.get(parent) ?? [];
    list.push(node);
    hooksUnder.set(parent, list);
  }
  const params = listParameters(cfg);
  const paramsOf = (path: string): ParameterInfo[] => params.filter((p) => p.name.slice(0, p.name.lastIndexOf('.')) === path);
  const norm = cfg.normalization_type === 'LN' ? 'LayerNorm' : 'LayerNormPre';
  const mod = (path: string, className: string, submodules: ModuleNode[] = []): ModuleNode => ({
    kind: 'module',
    attr: path.slice(path.lastIndexOf('.') + 1),
    path,
    className,
    children: [...submodules, ...(hooksUnder.get(path) ?? [])],
    parameters: paramsOf(path),
  });
  const blocks: ModuleNode[] = [];
  for (let L = 0; L < cfg.n_layers; L++) {
    const p = `blocks.${L}`;
    blocks.push(
      mod(p, 'TransformerBlock', [mod(`${p}.ln1`, norm), mod(`${p}.ln2`, norm), mod(`${p}.attn`, 'Attention'), mod(`${p}.mlp`, 'MLP')]),
    );
  }
  const top = hooksUnder.get('') ?? [];
  const topHook = (attr: string): HookNode[] => top.filter((h) => h.attr === attr);
  return {
    kind: 'module',
    attr: '',
    path: '',
    className: 'HookedTransformer',
    parameters: [],
    children: [
      mod('embed', 'Embed'),
      ...topHook('hook_embed'),
      mod('pos_embed', 'PosEmbed'),
      ...topHook('hook_pos_embed'),
      { kind: 'module', attr: 'blocks', path: 'blocks', className: 'ModuleList', children: blocks, parameters: [] },
      mod('ln_final', norm),
      mod('unembed', 'Unembed'),
    ],
  };
}

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * The tree as indented text: modules with their class, hooks with name and shape, params with
 * shape. With `symbolic`, hook shapes keep 'batch' and 'pos' as names instead of sizes.
 */
export function formatModuleTree(root: ModuleNode, cfg: HookedGPT2Config, symbolic = false): string {
  const every = allHooksConfig(cfg);
  const hookShapeText = (h: HookNode): string =>
    symbolic ? `[${symbolicShape({ name: h.name, dims: h.dims }, h.gated ? every : cfg).join(', ')}]` : shapeText(h.shape);
  const lines: string[] = [`${root.className}`];
  const walk = (n: ModuleNode, depth: number): void => {
    const pad = '  '.repeat(depth);
    for (const p of n.parameters) lines.push(`${pad}${p.name.slice(p.name.lastIndexOf('.') + 1)} ${shapeText(p.shape)}`);
    for (const c of n.children) {
      if (c.kind === 'hook') {
        lines.push(`${pad}${c.attr} ${hookShapeText(c)}  ${c.name}${c.gated ? '  (flag-gated: off)' : ''}`);
      } else {
        lines.push(`${pad}(${c.attr}): ${c.className}`);
        walk(c, depth + 1);
      }
    }
  };
  walk(root, 1);
  return `${lines.join('\n')}\n`;
}
