// Function hooks as cuts of the graph: the node list is split right after each hooked tensor's
// producer, so JavaScript can read or replace that tensor between two sessions. Each segment
// takes from earlier ones exactly the tensors it reads (the hooked tensor, the residual stream,
// the causal mask, ...) and owns only the weights its own nodes use.
import type { GraphIR, NodeDef, ValueDecl } from './onnx/ir';

export interface Segment {
  readonly graph: GraphIR;
  /** Tensors this segment reads from the caller (graph inputs or earlier segments). */
  readonly inputs: readonly string[];
  /** Tensors this segment hands on (later segments' inputs, wanted outputs, its cut tensor). */
  readonly outputs: readonly string[];
  /** The hooked tensor produced by this segment's last node, or null for the final segment. */
  readonly cut: string | null;
}

/**
 * Splits `g` after the producers of `cuts` (tensor names, any order). `wanted` are the tensors the
 * caller wants back besides the cuts (cache names, logits); each comes from the segment producing it.
 */
export function cutGraph(g: GraphIR, cuts: readonly string[], wanted: readonly string[]): Segment[] {
  const producer = new Map<string, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
  const cutIdx = [...new Set(cuts)]
    .map((c) => {
      const i = producer.get(c);
      if (i === undefined) throw new Error(`cannot cut at '${c}': no node produces it`);
      return { name: c, index: i };
    })
    .sort((a, b) => a.index - b.index);

  const bounds: { lo: number; hi: number; cut: string | null }[] = [];
  let lo = 0;
  for (const c of cutIdx) {
    bounds.push({ lo, hi: c.index + 1, cut: c.name });
    lo = c.index + 1;
  }
  bounds.push({ lo, hi: g.nodes.length, cut: null });

  const segNodes = bounds.map((b) => g.nodes.slice(b.lo, b.hi));
  const produced = segNodes.map((ns) => new Set(ns.flatMap((n) => n.outputs)));
  const consumed = segNodes.map((ns) => new Set(ns.flatMap((n) => n.inputs)));
  const wantedSet = new Set(wanted);

  return bounds.map((b, s) => {
    const inputs = [...consumed[s]!].filter((t) => !produced[s]!.has(t) && !g.initializers.has(t));
    const outputs = [...produced[s]!].filter(
      (t) => t === b.cut || wantedSet.has(t) || consumed.slice(s + 1).some((later, k) => later.has(t) && !produced[s + 1 + k]!.has(t)),
    );
    return { graph: subgraph(g, `${g.name}:${s}`, segNodes[s]!, inputs, outputs), inputs, outputs, cut: b.cut };
  });
}

function subgraph(g: GraphIR, name: string, nodes: readonly NodeDef[], inputs: readonly string[], outputs: readonly string[]): GraphIR {
  const decl = (t: string): ValueDecl => {
    const type = g.types.get(t);
    if (type === undefined) throw new Error(`internal: untyped tensor '${t}'`);
    const original = g.inputs.find((v) => v.name === t) ?? g.outputs.find((v) => v.name === t);
    return { name: t, type, dims: original?.dims ?? null };
  };
  const used = new Set(nodes.flatMap((n) => n.inputs));
  const initializers = new Map([...g.initializers].filter(([k]) => used.has(k)));
  return { name, nodes, initializers, inputs: inputs.map(decl), outputs: outputs.map(decl), types: g.types };
}
