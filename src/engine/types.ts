// Shared engine types: the contract between the loader, the weight processing, the graph
// builder, the model API, the worker and every caller (extension, CLI, tests, bench).
// Nothing here imports vscode or onnxruntime.

import type { TiedUnembed } from './tiedUnembed';

/** A dense float32 tensor in row-major order. `dims` follow TransformerLens's shapes. */
export interface Tensor {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** GPT-2's configuration in TransformerLens's terms (HookedTransformerConfig). */
export interface HookedGPT2Config {
  readonly model_name: string;
  readonly n_layers: number;
  readonly d_model: number;
  readonly n_heads: number;
  readonly d_head: number;
  readonly d_mlp: number;
  readonly d_vocab: number;
  readonly d_vocab_out: number;
  readonly n_ctx: number;
  readonly eps: number;
  readonly act_fn: 'gelu_new';
  /** 'LN' without fold_ln, 'LNPre' when LayerNorm weights were folded into what follows. */
  readonly normalization_type: 'LN' | 'LNPre';
  readonly use_attn_result: boolean;
  readonly use_split_qkv_input: boolean;
  readonly use_hook_mlp_in: boolean;
  readonly use_attn_in: boolean;
  /**
   * Which TransformerLens release's hook meanings the graph follows (docs/HOOKS.md); absent = '3.x'.
   * '3.x': LayerNorm's hook_normalized is before the gain and bias, and Unembed has hook_in/hook_out.
   * '2.x': hook_normalized is after them, and Unembed has no hooks.
   */
  readonly transformer_lens_version?: TransformerLensVersion;
}

/** The TransformerLens releases whose hook meanings differ for GPT-2 (docs/HOOKS.md). */
export type TransformerLensVersion = '3.x' | '2.x';
export const DEFAULT_TL_VERSION: TransformerLensVersion = '3.x';
export const TL_VERSIONS: readonly TransformerLensVersion[] = ['3.x', '2.x'];

/** TransformerLens's from_pretrained processing switches; all true by default, as there. */
export interface ProcessingOptions {
  readonly fold_ln: boolean;
  readonly center_writing_weights: boolean;
  readonly center_unembed: boolean;
  readonly fold_value_biases: boolean;
}

export const DEFAULT_PROCESSING: ProcessingOptions = {
  fold_ln: true,
  center_writing_weights: true,
  center_unembed: true,
  fold_value_biases: true,
};
export const NO_PROCESSING: ProcessingOptions = {
  fold_ln: false,
  center_writing_weights: false,
  center_unembed: false,
  fold_value_biases: false,
};
/** The switches in from_pretrained's order of application (and of its signature). */
export const PROCESSING_SWITCHES: readonly (keyof ProcessingOptions)[] = [
  'fold_ln',
  'center_writing_weights',
  'center_unembed',
  'fold_value_biases',
];

export type ExecutionProviderName = 'cpu' | 'webgpu' | 'cuda';
export type DeviceOption = ExecutionProviderName | 'auto';

/** Weights of one block in TransformerLens's layout (state_dict names in comments). */
export interface BlockWeights {
  ln1_w: Tensor | null; // blocks.L.ln1.w [d_model]; null once folded (LNPre)
  ln1_b: Tensor | null; // blocks.L.ln1.b [d_model]
  W_Q: Tensor; // blocks.L.attn.W_Q [n_heads, d_model, d_head]
  W_K: Tensor; // [n_heads, d_model, d_head]
  W_V: Tensor; // [n_heads, d_model, d_head]
  W_O: Tensor; // [n_heads, d_head, d_model]
  b_Q: Tensor; // [n_heads, d_head]
  b_K: Tensor; // [n_heads, d_head]
  b_V: Tensor; // [n_heads, d_head]
  b_O: Tensor; // [d_model]
  ln2_w: Tensor | null; // [d_model]
  ln2_b: Tensor | null; // [d_model]
  W_in: Tensor; // blocks.L.mlp.W_in [d_model, d_mlp]
  b_in: Tensor; // [d_mlp]
  W_out: Tensor; // [d_mlp, d_model]
  b_out: Tensor; // [d_model]
}

/** The whole model's weights in TransformerLens's layout. */
export interface GPT2Weights {
  W_E: Tensor; // embed.W_E [d_vocab, d_model]
  W_pos: Tensor; // pos_embed.W_pos [n_ctx, d_model]
  blocks: BlockWeights[];
  ln_final_w: Tensor | null; // [d_model]
  ln_final_b: Tensor | null; // [d_model]
  W_U: Tensor; // unembed.W_U [d_model, d_vocab]; with tiedUnembed, computed from W_E on access and not kept
  b_U: Tensor; // unembed.b_U [d_vocab]
  /**
   * Present for a tied checkpoint: W_U is not stored but is W_E's transpose with processing's
   * corrections (src/engine/tiedUnembed.ts), and graphs unembed through W_E.
   */
  tiedUnembed?: TiedUnembed;
}

/** Which activations a caller wants: exact names, a glob ("blocks.*.attn.hook_pattern"), or a predicate. */
export type NamesFilter = readonly string[] | string | ((name: string) => boolean);
