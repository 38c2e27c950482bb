// Learned positional embedding (TransformerLens components/pos_embed.py): W_pos[0..pos),
// repeated over the batch as TransformerLens returns it.
import type { GraphBuilder, HookDecl } from '../src/engine/onnx/builder';
import type { Tensor } from '../src/engine/types';
import { absolutePositions } from './kvCache';

export function posEmbedHooks(): HookDecl[] {
  return [{ name: 'hook_pos_embed', dims: ['batch', 'pos', 'd_model'] }];
}

/** The positions 0..pos-1 of `x`'s axis 1, as int64 [pos]; computed once per graph. */
export function positions(b: GraphBuilder, x: string): string {
  return b.once('positions', () => {
    const shape = b.op('Shape', [x], undefined, { type: 'int64' }); // [rank]
    const n = b.op('Gather', [shape, b.constant('int64', [1], [])], { axis: { i: 0 } }); // scalar pos
    return b.op('Range', [b.constant('int64', [0], []), n, b.constant('int64', [1], [])]); // [pos]
  });
}

/**
 * tokens: int64 [batch, pos] → hook_pos_embed [batch, pos, d_model]. With `pastLength` (an int64
 * scalar, the incremental forward) the rows are W_pos[past..past+pos).
 */
export function emitPosEmbed(b: GraphBuilder, tokens: string, W_pos: Tensor, d_model: number, pastLength?: string): string {
  const [hookPosEmbed] = posEmbedHooks();
  const table = b.weight('pos_embed.W_pos', W_pos); // [n_ctx, d_model]
  const at = pastLength === undefined ? positions(b, tokens) : absolutePositions(b, tokens, pastLength);
  const rows = b.op('Gather', [table, at], { axis: { i: 0 } }); // [pos, d_model]
  const tokShape = b.op('Shape', [tokens], undefined, { type: 'int64' }); // [2]
  const target = b.op('Concat', [tokShape, b.ints([d_model])], { axis: { i: 0 } }); // [3]
  const repeated = b.op('Expand', [rows, target]); // [batch, pos, d_model]
  return b.hook(hookPosEmbed!, repeated);
}
