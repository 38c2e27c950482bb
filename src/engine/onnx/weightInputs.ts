// Weights as graph inputs: the graph a CPU session is created from names every large initializer
// as an input instead, and the session is handed the model's one set of weight arrays to feed on
// every run (createSession's `boundInputs`). onnxruntime's CPU provider runs on a fed tensor's
// buffer where it lies, so every session of a model reads the same bytes and none holds a copy.
//
// Why not external data (weightFile.ts): onnxruntime maps the external file once per session, so
// each variant added the whole weights again to the process's resident memory (measured in
// docs/ARCHITECTURE.md, "One copy of the weights").
import { decodeTable, type HalfSource } from '../halfSource';
import type { DeviceTensor } from '../ort/deviceTensor';
import type { ElemType, GraphIR, InitializerDef, NodeDef, TensorData } from './ir';
import { atOpset } from './opsetUpgrade';
import { viewAfter } from './viewAfter';
import { WeightFile } from './weightFile';

/**
 * What a lifted input is fed: host arrays, or the weight's copy on the device (deviceWeights.ts);
 * a 16-bit tensor for a float32 weight (float16, or uint16 holding bfloat16 bits) is decoded to
 * float32 in the graph.
 */
export type BoundTensor =
  | {
      readonly type: ElemType;
      readonly dims: readonly number[];
      readonly data: TensorData;
    }
  | DeviceTensor;

export interface LiftedGraph {
  /** The graph with the lifted initializers declared as inputs (and a decode after each 16-bit one). */
  readonly graph: GraphIR;
  /** What each new input is fed: by default the initializer itself (the same typed array, not a copy). */
  readonly weights: ReadonlyMap<string, BoundTensor>;
}

/** ONNX TensorProto.DataType FLOAT, INT32 and BFLOAT16 (Cast's and BitCast's `to`). */
const TO_FLOAT = 1;
const TO_INT32 = 6;
const TO_BFLOAT16 = 16;

/** The kept initializer holding bfloat16's decode table (halfSource.ts decodeTable). */
const BF16_TABLE = 'bfloat16::table';

/** The opset whose BitCast reinterprets uint16 bits as bfloat16 (onnxruntime-node 1.30 runs it on the CPU). */
const BITCAST_OPSET = 26;

/**
 * How bfloat16 weights are decoded. onnxruntime-node has no bfloat16 tensor, so they are fed as
 * uint16 bits, and opset 17 has no way to read bits as another type:
 * - 'table': the bits become indices (Cast to int32) into the 65,536-entry table of every pattern's
 *   float32 value, and Gather's output has the indices' shape. Any provider, any opset; but
 *   Gather copies one element per index, about 0.6 s a run for gpt2-small's weights on 2 cores.
 * - 'bitcast': BitCast to bfloat16 (opset 26), then Cast to float32, a vectorised widening: a
 *   4-token run of gpt2-small's shape took 0.05 s against the table's 0.60 s (docs/ARCHITECTURE.md,
 *   "One copy of the weights"). The graph is raised to opset 26 (opsetUpgrade.ts), which only
 *   the CPU provider is used with: a GPU provider that lacks a kernel at 26 would leave nodes on
 *   the CPU.
 * Both are exact: a bfloat16 value is a float32 value.
 */
export type Bf16Decode = 'table' | 'bitcast';

/** The nodes that make float32 `out` from the 16-bit `input` of type `type`. float16: a Cast; bfloat16 (fed as uint16): see Bf16Decode. */
function decodeNodes(type: ElemType, input: string, out: string, types: Map<string, ElemType>, bf16: Bf16Decode): NodeDef[] {
  if (type === 'float16') return [{ op: 'Cast', name: `cast:${out}`, inputs: [input], outputs: [out], attrs: { to: { i: TO_FLOAT } } }];
  if (type !== 'uint16') throw new Error(`internal: a float32 weight cannot be fed ${type}`);
  if (bf16 === 'bitcast') {
    // The bfloat16 value between the two nodes has no ElemType: nothing else in the graph reads one.
    const bits = `${out}::bfloat16`;
    return [
      { op: 'BitCast', name: `bits:${out}`, inputs: [input], outputs: [bits], attrs: { to: { i: TO_BFLOAT16 } } },
      { op: 'Cast', name: `widen:${out}`, inputs: [bits], outputs: [out], attrs: { to: { i: TO_FLOAT } } },
    ];
  }
  const index = `${out}::index`;
  types.set(index, 'int32');
  return [
    { op: 'Cast', name: `index:${out}`, inputs: [input], outputs: [index], attrs: { to: { i: TO_INT32 } } },
    { op: 'Gather', name: `decode:${out}`, inputs: [BF16_TABLE, index], outputs: [out], attrs: { axis: { i: 0 } } },
  ];
}

/** What a 16-bit source is fed as: float16 as it is, bfloat16's bits as uint16. */
function fedHalf(t: InitializerDef, half: HalfSource): BoundTensor {
  return { type: half.encoding === 'float16' ? 'float16' : 'uint16', dims: t.dims, data: half.bits };
}

/**
 * Moves every initializer that `isWeight` picks (default: those weightFile would externalise) to a
 * graph input fed from `bind(initializer)` (default: the initializer's own array), or from its
 * 16-bit source when it has one (InitializerDef.half). When it is fed 16 bits for a float32
 * initializer, the input is `<name>::<type>` and decodeNodes produce `<name>` in float32, so the
 * graph's arithmetic is unchanged (a Gather from such a weight reads the 16-bit input and decodes
 * the rows it gathered).
 */
export function liftWeights(
  g: GraphIR,
  opts: { isWeight?: (t: InitializerDef) => boolean; bind?: (t: InitializerDef) => BoundTensor; bf16Decode?: Bf16Decode } = {},
): LiftedGraph {
  const bf16 = opts.bf16Decode ?? 'table';
  const isWeight = opts.isWeight ?? WeightFile.isExternal;
  const kept = new Map<string, InitializerDef>();
  const weights = new Map<string, BoundTensor>();
  /** The 16-bit input each decoded weight is fed through, keyed by the float32 name the graph reads. */
  const narrowOf = new Map<string, string>();
  const types = new Map(g.types);
  for (const [name, t] of g.initializers) {
    if (!isWeight(t)) {
      kept.set(name, t);
      continue;
    }
    // A 16-bit weight is fed its source as it is (the initializer's data would decode it).
    const fed: BoundTensor = t.half !== undefined ? fedHalf(t, t.half) : opts.bind ? opts.bind(t) : t;
    if (fed.type === t.type) {
      weights.set(name, fed);
    } else {
      const input = `${name}::${fed.type}`;
      weights.set(input, fed);
      types.set(input, fed.type);
      narrowOf.set(name, input);
    }
  }
  const anyBf16 = [...weights.values()].some((t) => t.type === 'uint16');
  if (anyBf16 && bf16 === 'table') {
    kept.set(BF16_TABLE, { name: BF16_TABLE, type: 'float32', dims: [65536], data: decodeTable('bfloat16') });
    types.set(BF16_TABLE, 'float32');
  }
  const inputs = [...g.inputs, ...[...weights].map(([name, t]) => ({ name, type: t.type, dims: [...t.dims] }))];
  const gate = castGate(g, narrowOf, types);
  const decoded = new Set<string>();
  const nodes: NodeDef[] = [];
  // Slices of a narrow weight, emitted (sliced narrow, then decoded) just before their reader.
  const slices = new Map<string, { node: NodeDef; table: string }>();
  for (const n of g.nodes) {
    const table = n.op === 'Gather' || n.op === 'Slice' ? narrowOf.get(n.inputs[0]!) : undefined;
    if (table !== undefined && n.op === 'Slice') {
      slices.set(n.outputs[0]!, { node: n, table });
      continue;
    }
    if (table !== undefined) {
      // A lookup (the embeddings) gathers rows of the narrow table and decodes only those:
      // decoding the table first made W_E whole in float32 on every run (154 MiB for GPT-2
      // small). The same values: Gather moves the 16-bit values as they are, the decode is exact.
      decodeRows(nodes, types, n, table, bf16);
      continue;
    }
    for (const i of n.inputs) {
      const narrow = narrowOf.get(i);
      if (narrow !== undefined && !decoded.has(i)) {
        nodes.push(...decodeNodes(types.get(narrow)!, gate(nodes, narrow, `${narrow}::gated`, n), i, types, bf16));
        decoded.add(i);
      }
      const slice = slices.get(i);
      if (slice !== undefined) {
        // A slice (the unembedding's vocabulary slices, kernels/unembed.ts) likewise decodes only
        // what it selects, gated on its reader so that the slices are not all decoded up front.
        const gated = gate(nodes, slice.table, `${i}::gated`, n);
        decodeRows(nodes, types, slice.node, gated, bf16);
        slices.delete(i);
      }
    }
    nodes.push(n);
  }
  const graph: GraphIR = { ...g, nodes, initializers: kept, inputs, types };
  return { graph: anyBf16 && bf16 === 'bitcast' ? atOpset(graph, BITCAST_OPSET) : graph, weights };
}

/** Emits `n` (a Gather or Slice of a weight) on the narrow `table`, then the decode of what it selected to the name `n` gave it. */
function decodeRows(nodes: NodeDef[], types: Map<string, ElemType>, n: NodeDef, table: string, bf16: Bf16Decode): void {
  const out = n.outputs[0]!;
  const rows = `${out}::narrow`;
  const type = types.get(table)!;
  types.set(rows, type);
  nodes.push({ ...n, inputs: [table, ...n.inputs.slice(1)], outputs: [rows] });
  nodes.push(...decodeNodes(type, rows, out, types, bf16));
}

interface CastGate {
  /**
   * Emits into `nodes` a view of the narrow weight `narrow` named `out` that onnxruntime can only
   * compute once `reader`'s activation input exists, and returns its name (`narrow` itself when
   * `reader` reads no activation).
   */
  (nodes: NodeDef[], narrow: string, out: string, reader: NodeDef | undefined): string;
}

/**
 * Decodes tied to their readers. The node order above does not decide when onnxruntime runs a node:
 * it ran a Cast whose reader's other input is a whole earlier block as soon as the run started
 * (a profile of gpt2-small in fp16: the casts of every block's W_O, W_in, W_out and biases first),
 * so every block's weights existed in float32 at once: about 1 GB at gpt2-medium. The decode reads
 * viewAfter(narrow weight, reader's activation input), which cannot be computed before the
 * activation; each block's float32 weights then exist while that block runs.
 */
function castGate(g: GraphIR, narrowOf: ReadonlyMap<string, string>, types: Map<string, ElemType>): CastGate {
  // Activations: values computed by the graph's nodes, not selected from a weight.
  const fromWeight = (n: NodeDef): boolean => (n.op === 'Gather' || n.op === 'Slice') && narrowOf.has(n.inputs[0]!);
  const produced = new Set(g.nodes.flatMap((n) => (fromWeight(n) ? [] : n.outputs)));
  return (nodes, narrow, out, reader) => {
    const activation = reader?.inputs.find((i) => produced.has(i));
    if (activation === undefined) return narrow;
    nodes.push(...viewAfter(narrow, activation, out, types.get(narrow)!, types));
    return out;
  };
}
