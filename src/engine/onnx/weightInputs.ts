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
  const castOf = new Map(casts.map((c) => [c.outputs[0]!, c]));
  const narrowOf = new Map(casts.map((c) => [c.outputs[0]!, c.inputs[0]!]));
  const dimsOf = new Map([...weights].map(([name, t]) => [name, t.dims] as const));
  const gate = castGate(g, narrowOf, kept, types);
  const nodes: NodeDef[] = [];
  // Slices of a narrow weight, emitted (sliced narrow, then cast) just before their reader.
  const slices = new Map<string, { node: NodeDef; table: string }>();
  for (const n of g.nodes) {
    const table = n.op === 'Gather' || n.op === 'Slice' ? narrowOf.get(n.inputs[0]!) : undefined;
    if (table !== undefined && n.op === 'Slice') {
      slices.set(n.outputs[0]!, { node: n, table });
      continue;
    }
    if (table !== undefined) {
      // A lookup (the embeddings) gathers rows of the narrow table and casts only those: casting
      // the table first made W_E whole in float32 on every run (154 MiB for GPT-2 small). The
      // same values: a Cast from float16 to float32 is exact.
      castRows(nodes, types, n, table);
      continue;
    }
    for (const i of n.inputs) {
      const c = castOf.get(i);
      if (c !== undefined) {
        const narrow = c.inputs[0]!;
        nodes.push({ ...c, inputs: [gate(nodes, narrow, dimsOf.get(narrow)!, `${narrow}::gated`, n)] });
        castOf.delete(i);
      }
      const slice = slices.get(i);
      if (slice !== undefined) {
        // A slice (the unembedding's vocabulary slices, kernels/unembed.ts) likewise casts only
        // what it selects, gated on its reader so that the slices are not all cast up front.
        const gated = gate(nodes, slice.table, dimsOf.get(slice.table)!, `${i}::gated`, n);
        castRows(nodes, types, slice.node, gated);
        slices.delete(i);
      }
    }
    nodes.push(n);
  }
  return { graph: { ...g, nodes, initializers: kept, inputs, types }, weights };
}

/** Emits `n` (a Gather or Slice of a weight) on the narrow `table`, then a Cast of what it selected to the name `n` gave it. */
function castRows(nodes: NodeDef[], types: Map<string, ElemType>, n: NodeDef, table: string): void {
  const out = n.outputs[0]!;
  const rows = `${out}::narrow`;
  types.set(rows, types.get(table)!);
  nodes.push({ ...n, inputs: [table, ...n.inputs.slice(1)], outputs: [rows] });
  nodes.push({ op: 'Cast', name: `cast:${out}`, inputs: [rows], outputs: [out], attrs: { to: { i: TO_FLOAT } } });
}

interface CastGate {
  /**
   * Emits into `nodes` a view of the narrow weight `narrow` (dims `dims`) named `out` that
   * onnxruntime can only compute once `reader`'s activation input exists, and returns its name
   * (`narrow` itself when `reader` reads no activation).
   */
  (nodes: NodeDef[], narrow: string, dims: readonly number[], out: string, reader: NodeDef | undefined): string;
}

/**
 * Casts tied to their readers. The node order above does not decide when onnxruntime runs a node:
 * it ran a Cast whose reader's other input is a whole earlier block as soon as the run started
 * (a profile of gpt2-small in fp16: the casts of every block's W_O, W_in, W_out and biases first),
 * so every block's weights existed in float32 at once: about 1 GB at gpt2-medium. A Reshape of the
 * narrow weight to its own shape, with that shape computed from the reader's activation input
 * (its dims plus Size(activation)·0), is a view that cannot be computed before the activation, and
 * neither can the Cast after it; each block's float32 weights then exist while that block runs.
 */
function castGate(
  g: GraphIR,
  narrowOf: ReadonlyMap<string, string>,
  kept: Map<string, InitializerDef>,
  types: Map<string, ElemType>,
): CastGate {
  // Activations: values computed by the graph's nodes, not selected from a weight.
  const fromWeight = (n: NodeDef): boolean => (n.op === 'Gather' || n.op === 'Slice') && narrowOf.has(n.inputs[0]!);
  const produced = new Set(g.nodes.flatMap((n) => (fromWeight(n) ? [] : n.outputs)));
  const zeros = new Map<string, string>();
  const int64 = (name: string, values: readonly number[], dims: readonly number[]): string => {
    if (!kept.has(name)) kept.set(name, { name, type: 'int64', dims: [...dims], data: BigInt64Array.from(values, BigInt) });
    types.set(name, 'int64');
    return name;
  };
  const emit = (nodes: NodeDef[], op: string, inputs: string[], out: string, type: ElemType): string => {
    nodes.push({ op, name: `gate:${out}`, inputs, outputs: [out] });
    types.set(out, type);
    return out;
  };
  const gate: CastGate = (nodes, narrow, dims, out, reader) => {
    const activation = reader?.inputs.find((i) => produced.has(i));
    if (activation === undefined) return narrow;
    let zero = zeros.get(activation);
    if (zero === undefined) {
      const size = emit(nodes, 'Size', [activation], `${activation}::size`, 'int64');
      zero = emit(nodes, 'Mul', [size, int64('gate::zero', [0], [])], `${activation}::after`, 'int64');
      zeros.set(activation, zero);
    }
    const shape = emit(nodes, 'Add', [int64(`${narrow}::dims`, dims, [dims.length]), zero], `${out}::dims`, 'int64');
    return emit(nodes, 'Reshape', [narrow, shape], out, types.get(narrow)!);
  };
  return gate;
}
