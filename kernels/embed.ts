// Token embedding (TransformerLens components/embed.py): W_E[tokens].
import type { GraphBuilder, HookDecl } from '../src/engine/onnx/builder';
import type { Tensor } from '../src/engine/types';

export function embedHooks(): HookDecl[] {
  return [{ name: 'hook_embed', dims: ['batch', 'pos', 'd_model'] }];
}

/** tokens: int64 [batch, pos] → hook_embed [batch, pos, d_model]. */
export function emitEmbed(b: GraphBuilder, tokens: string, W_E: Tensor): string {
  const [hookEmbed] = embedHooks();
  const table = b.weight('embed.W_E', W_E); // [d_vocab, d_model]
  const embedded = b.op('Gather', [table, tokens], { axis: { i: 0 } }); // [batch, pos, d_model]
  return b.hook(hookEmbed!, embedded);
}
