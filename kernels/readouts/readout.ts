// A readout is one question asked of a forward pass, answered by ONNX nodes appended to the
// forward graph: it reads hook tensors by their TransformerLens names, reduces them (log-sum-exp,
// TopK, pooling, norms, a Gather) and declares only its small answer as graph outputs, so the
// session never copies a whole activation out. One file per question in this folder;
// HookedGPT2.readout() runs "forward + these readouts" (src/engine/readouts.ts).
import type { GraphBuilder } from '../../src/engine/onnx/builder';
import type { ElemType } from '../../src/engine/onnx/ir';
import type { GPT2Weights, HookedGPT2Config } from '../../src/engine/types';

/** A value a readout takes per call (a position, a token, a window) as a graph input, so one session serves every value. */
export interface ReadoutParam {
  readonly type: 'int64';
  readonly values: readonly number[];
}

/** What a readout's emit function gets: the builder after the forward graph, and helpers shared by all readouts. */
export interface ReadoutGraph {
  readonly b: GraphBuilder;
  readonly cfg: HookedGPT2Config;
  readonly weights: GPT2Weights;
  /** The token ids, int64 [batch, pos]. */
  readonly tokens: string;
  /** The logits, float32 [batch, pos, d_vocab_out]. */
  readonly logits: string;
  /**
   * In a right-padded batch, int64 [batch, pos]: 1 at each prompt's real positions, 0 at its
   * padding (the logits at 'last' are then each prompt's own last position); null otherwise.
   */
  readonly attentionMask: string | null;
  /** This readout's per-call parameter `name` (declared in `params`) as an int64 graph input of shape [n]. */
  param(name: string): string;
  /**
   * Has the forward compute `tensor` before it reaches hook point `hook` (values unchanged), so
   * that what `tensor` read can be freed early; see orderBefore in src/engine/readouts.ts.
   */
  before(tensor: string, hook: string): void;
  /** Declares `tensor` as this readout's answer `name` (a graph output). */
  output(name: string, tensor: string): void;
  /** The token that follows each position, int64 [batch, pos, 1]; 0 at the last position (whose answers callers mask). */
  nextTokens(): string;
}

export interface Readout {
  /**
   * What the graph piece is, everything that changes its nodes (k, the layer, the thumbnail
   * size); a graph variant is keyed by its readouts' keys. Unique within one request.
   */
  readonly key: string;
  /** Per-call values, fed as graph inputs (not part of the key). */
  readonly params: Readonly<Record<string, ReadoutParam>>;
  /**
   * 'last': the readout reads only the last position's logits ([batch, 1, d_vocab_out]), so the
   * graph unembeds that position alone. Every readout of one request must agree.
   */
  readonly logitsAt?: 'last';
  /**
   * How the engine may answer this readout over windows of positions, so that a long prompt's
   * logits are never [pos, d_vocab] at once (HookedGPT2.readout, beyond 256 positions, in windows of 128). Each
   * window is fed the unembedding's input and the tokens at positions [from, to + 1), the one
   * extra position giving the window's last row its next token. 'rows': the answers are
   * [batch, pos, ...] and row p depends only on position p's logits and next token, so the
   * windows' rows [from, to) are concatenated. 'meanNext': the answer is [batch], a mean over the
   * predicting positions of the tokens fed, so the windows' answers are averaged weighted by how
   * many each predicted. Absent: the readout sees every position at once.
   */
  readonly windows?: 'rows' | 'meanNext';
  /**
   * The hook points the readout reads, so that a caller can hold copies of them from one run and
   * answer later without a forward pass (HookedGPT2.readout's `held`: those hooks become graph
   * inputs and nothing before them runs). Absent for readouts that read the logits.
   */
  reads?(cfg: HookedGPT2Config): string[];
  /** Appends the nodes; must call g.output for every answer. */
  emit(g: ReadoutGraph): void;
}

/** A readout's answers by the names it gave them; int64 answers come back as BigInt64Array. */
export type ReadoutAnswer = Readonly<Record<string, { readonly dims: readonly number[]; readonly data: Float32Array | BigInt64Array }>>;

export const AXIS_LAST = { axes: { ints: [-1] }, keepdims: { i: 1 } } as const;

/** x [.., d] → x - mean(x) over the last axis, as LayerNorm centres (and TransformerLens's apply_ln_to_stack). */
export function centre(b: GraphBuilder, x: string): string {
  return b.op('Sub', [x, b.op('ReduceMean', [x], { ...AXIS_LAST })]);
}

/** Positions [from, to) of x along `axis`, with from/to int64 [1] tensors. */
export function sliceAxis(b: GraphBuilder, x: string, from: string, to: string, axis: number): string {
  return b.op('Slice', [x, from, to, b.ints([axis])]);
}

export type { ElemType };
