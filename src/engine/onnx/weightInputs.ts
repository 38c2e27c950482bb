// Weights as graph inputs: the graph a CPU session is created from names every large initializer
// as an input instead, and the session is handed the model's one set of weight arrays to feed on
// every run (createSession's `boundInputs`). onnxruntime's CPU provider runs on a fed tensor's
// buffer where it lies, so every session of a model reads the same bytes and none holds a copy.
//
// Why not external data (weightFile.ts): onnxruntime maps the external file once per session, so
// each variant added the whole weights again to the process's resident memory (measured in
// docs/ARCHITECTURE.md, "One copy of the weights").
import type { DeviceTensor } from '../ort/deviceTensor';
import type { ElemType, GraphIR, InitializerDef, NodeDef, TensorData } from './ir';
import { WeightFile } from './weightFile';

/**
 * What a lifted input is fed: host arrays, or the weight's copy on the device (deviceWeights.ts);
 * a float16 tensor for a float32 weight gets a Cast to float32 in the graph.
 */
export type BoundTensor =
  | {
      readonly type: ElemType;
      readonly dims: readonly number[];
      readonly data: TensorData;
    }
  | DeviceTensor;

export interface LiftedGraph {
  /** The graph with the lifted initializers declared as inputs (and a Cast after each half-precision one). */
  readonly graph: GraphIR;
  /** What each new input is fed: by default the initializer itself (the same typed array, not a copy). */
  readonly weights: ReadonlyMap<string, BoundTensor>;
}

/** ONNX TensorProto.DataType.FLOAT, Cast's `to`. */
const TO_FLOAT = 1;

/**
 * Moves every initializer that `isWeight` picks (default: those weightFile would externalise) to a
 * graph input fed from `bind(initializer)` (default: the initializer's own array), or from its
 * float16 source when it has one (InitializerDef.half). When it is fed float16 for a float32
 * initializer, the input is `<name>::float16` and a Cast node produces `<name>` in float32, so the
 * graph's arithmetic is unchanged (a Gather from such a weight reads the float16 input and casts
 * the rows it gathered).
 */
export function liftWeights(
  g: GraphIR,
  opts: { isWeight?: (t: InitializerDef) => boolean; bind?: (t: InitializerDef) => BoundTensor } = {},
): LiftedGraph {
  const isWeight = opts.isWeight ?? WeightFile.isExternal;
  const kept = new Map<string, InitializerDef>();
  const weights = new Map<string, BoundTensor>();
  const casts: NodeDef[] = [];
  const types = new Map(g.types);
  for (const [name, t] of g.initializers) {
    if (!isWeight(t)) {
      kept.set(name, t);
      continue;
    }
    // A half-stored weight is fed its float16 source as it is (the initializer's data would decode it).
    const fed: BoundTensor = t.half !== undefined ? { type: 'float16', dims: t.dims, data: t.half } : opts.bind ? opts.bind(t) : t;
    if (fed.type === t.type) {
      weights.set(name, fed);
    } else {
      const input = `${name}::${fed.type}`;
      weights.set(input, fed);
      types.set(input, fed.type);
      casts.push({ op: 'Cast', name: `cast:${name}`, inputs: [input], outputs: [name], attrs: { to: { i: TO_FLOAT } } });
    }
  }
  const inputs = [...g.inputs, ...[...weights].map(([name, t]) => ({ name, type: t.type, dims: [...t.dims] }))];
  // Each Cast just before its weight's first consumer: all of them first would hold every weight
  // in float32 at once, in the session's arena.
  const castOf = new Map(casts.map((c) => [c.outputs[0]!, c]));
  const narrowOf = new Map(casts.map((c) => [c.outputs[0]!, c.inputs[0]!]));
  const nodes: NodeDef[] = [];
  for (const n of g.nodes) {
    const table = n.op === 'Gather' ? narrowOf.get(n.inputs[0]!) : undefined;
    if (table !== undefined) {
      // A lookup (the embeddings) gathers rows of the narrow table and casts only those: casting
      // the table first made W_E whole in float32 on every run (154 MiB for GPT-2 small). The
      // same values: a Cast from float16 to float32 is exact.
      const out = n.outputs[0]!;
      const rows = `${out}::narrow`;
      types.set(rows, types.get(table)!);
      nodes.push({ ...n, inputs: [table, ...n.inputs.slice(1)], outputs: [rows] });
      nodes.push({ op: 'Cast', name: `cast:${out}`, inputs: [rows], outputs: [out], attrs: { to: { i: TO_FLOAT } } });
      continue;
    }
    for (const i of n.inputs) {
      const c = castOf.get(i);
      if (c !== undefined) {
        nodes.push(c);
        castOf.delete(i);
      }
    }
    nodes.push(n);
  }
  return { graph: { ...g, nodes, initializers: kept, inputs, types }, weights };
}
