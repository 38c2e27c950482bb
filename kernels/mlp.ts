// GPT-2's MLP (TransformerLens components/mlps/mlp.py) with gelu_new, the tanh approximation:
//   0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
import type { GraphBuilder, HookDecl } from '../src/engine/onnx/builder';
import type { BlockWeights } from '../src/engine/types';

export function mlpHooks(prefix: string): HookDecl[] {
  return [
    { name: `${prefix}.hook_pre`, dims: ['batch', 'pos', 'd_mlp'] },
    { name: `${prefix}.hook_post`, dims: ['batch', 'pos', 'd_mlp'] },
  ];
}

/** Same association order as TransformerLens's gelu_new, so float32 rounding matches it closely. */
function geluNew(b: GraphBuilder, x: string): string {
  const cube = b.op('Pow', [x, b.scalarF(3)]);
  const inner = b.op('Add', [x, b.op('Mul', [b.scalarF(0.044715), cube])]);
  const t = b.op('Tanh', [b.op('Mul', [b.scalarF(Math.sqrt(2 / Math.PI)), inner])]);
  return b.op('Mul', [b.op('Mul', [b.scalarF(0.5), x]), b.op('Add', [b.scalarF(1), t])]);
}

/** x [batch, pos, d_model] → MLP output before hook_mlp_out [batch, pos, d_model]. */
export function emitMlp(b: GraphBuilder, prefix: string, x: string, w: BlockWeights): string {
  const [hPre, hPost] = mlpHooks(prefix);
  const wIn = b.weight(`${prefix}.W_in`, w.W_in); // [d_model, d_mlp]
  const bIn = b.weight(`${prefix}.b_in`, w.b_in); // [d_mlp]
  const pre = b.hook(hPre!, b.op('Add', [b.op('MatMul', [x, wIn]), bIn])); // [batch, pos, d_mlp]
  const post = b.hook(hPost!, geluNew(b, pre)); // [batch, pos, d_mlp]
  const wOut = b.weight(`${prefix}.W_out`, w.W_out); // [d_mlp, d_model]
  const bOut = b.weight(`${prefix}.b_out`, w.b_out); // [d_model]
  return b.op('Add', [b.op('MatMul', [post, wOut]), bOut]); // [batch, pos, d_model]
}
