// Unembedding (TransformerLens components/unembed.py): logits = x·W_U + b_U. No hook points there.
import type { GraphBuilder, HookDecl } from '../src/engine/onnx/builder';
import type { Tensor } from '../src/engine/types';

export function unembedHooks(): HookDecl[] {
  return [];
}

/** x [batch, pos, d_model] → logits [batch, pos, d_vocab_out], under the graph name `out`. */
export function emitUnembed(b: GraphBuilder, x: string, W_U: Tensor, b_U: Tensor, out: string): string {
  const wU = b.weight('unembed.W_U', W_U); // [d_model, d_vocab_out]
  const bU = b.weight('unembed.b_U', b_U); // [d_vocab_out]
  return b.op('Add', [b.op('MatMul', [x, wU]), bU], undefined, { out });
}
