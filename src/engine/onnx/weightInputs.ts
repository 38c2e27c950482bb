// Weights as graph inputs: the graph a CPU session is created from names every large initializer
// as an input instead, and the session is handed the model's one set of weight arrays to feed on
// every run (createSession's `boundInputs`). onnxruntime's CPU provider runs on a fed tensor's
// buffer where it lies, so every session of a model reads the same bytes and none holds a copy.
//
// Why not external data (weightFile.ts): onnxruntime maps the external file once per session, so
// each variant added the whole weights again to the process's resident memory (measured in
// docs/ARCHITECTURE.md, "One copy of the weights").
import type { GraphIR, InitializerDef } from './ir';
import { WeightFile } from './weightFile';

export interface LiftedGraph {
  /** The graph with the lifted initializers declared as inputs (nodes unchanged). */
  readonly graph: GraphIR;
  /** What each new input is fed: the initializer itself (the same typed array, not a copy). */
  readonly weights: ReadonlyMap<string, InitializerDef>;
}

/** Moves every initializer that `isWeight` picks (default: those weightFile would externalise) to a graph input. */
export function liftWeights(g: GraphIR, isWeight: (t: InitializerDef) => boolean = WeightFile.isExternal): LiftedGraph {
  const kept = new Map<string, InitializerDef>();
  const weights = new Map<string, InitializerDef>();
  for (const [name, t] of g.initializers) (isWeight(t) ? weights : kept).set(name, t);
  const inputs = [...g.inputs, ...[...weights.values()].map((t) => ({ name: t.name, type: t.type, dims: [...t.dims] }))];
  return { graph: { ...g, initializers: kept, inputs }, weights };
}
