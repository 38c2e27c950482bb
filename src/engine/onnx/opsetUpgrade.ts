// A graph written for opset 17 (ir.ts OPSET_VERSION) made valid at a later opset, for the graphs
// that need an operator only a later opset has (weightInputs.ts: BitCast, opset 26, to decode
// bfloat16 weights). Only what changed for the operators the builder emits is rewritten: from
// opset 18 the reductions other than ReduceSum take `axes` as an input instead of an attribute
// (ReduceSum already did at 13). Every other operator the builder uses kept its meaning up to 26
// for the types used here; onnxruntime refuses a node whose attributes its opset does not know,
// so a change missed here fails loudly when the session is created, never silently.
import type { AttrDef, GraphIR, InitializerDef, NodeDef } from './ir';
import { OPSET_VERSION } from './ir';

/** The reductions whose `axes` became an input at opset 18. */
const AXES_INPUT_FROM_18 = new Set([
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceMax',
  'ReduceMean',
  'ReduceMin',
  'ReduceProd',
  'ReduceSumSquare',
]);

/** `g` (opset 17) as a graph for `opset`; the same values. */
export function atOpset(g: GraphIR, opset: number): GraphIR {
  if (opset < OPSET_VERSION) throw new Error(`internal: a graph cannot go down to opset ${opset}`);
  if (opset < 18) return { ...g, opset };
  const initializers = new Map(g.initializers);
  const types = new Map(g.types);
  const nodes = g.nodes.map((n): NodeDef => {
    const axes = n.attrs?.axes;
    if (!AXES_INPUT_FROM_18.has(n.op) || axes === undefined) return n;
    if (!('ints' in axes)) throw new Error(`internal: ${n.name}'s axes are not a list of ints`);
    const name = `${n.name}::axes`;
    const data = BigInt64Array.from(axes.ints, (a) => BigInt(a));
    const t: InitializerDef = { name, type: 'int64', dims: [data.length], data };
    initializers.set(name, t);
    types.set(name, 'int64');
    const attrs: Record<string, AttrDef> = { ...n.attrs };
    delete attrs.axes;
    return { ...n, inputs: [n.inputs[0]!, name], attrs };
  });
  return { ...g, nodes, initializers, types, opset };
}
