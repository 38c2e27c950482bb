// A question appended to the forward graph: nodes that read the logits (and the tokens) and
// return a small answer, so a batched run hands back one number per batch entry instead of
// [batch, pos, d_vocab] logits. HookedGPT2.runReadout builds one session per readout key.
import type { GraphBuilder } from './onnx/builder';
import type { HostTensor } from './ort/session';

export interface ReadoutOutput {
  readonly name: string;
  /** Symbolic dims ('batch', 'pos') or sizes, as graph outputs declare them. */
  readonly dims: readonly (number | string)[];
}

export interface GraphReadout {
  /** Identifies the appended nodes: equal keys share one graph and session. Values that vary are feeds. */
  readonly key: string;
  /** Appends the nodes after the unembedding: logits [batch, pos or 1, d_vocab_out], tokens int64 [batch, pos]. */
  emit(b: GraphBuilder, logits: string, tokens: string): readonly ReadoutOutput[];
  /** The graph inputs the nodes read besides tokens (answer token ids, ...). */
  feeds(): Record<string, HostTensor>;
}
