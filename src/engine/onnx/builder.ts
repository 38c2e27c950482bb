// Emits ONNX nodes in execution order and records every hook point a kernel names.
// Kernels only talk to this class; the model graph (src/engine/graph.ts) composes them.
import { halfSourceOf } from '../halfSource';
import type { Tensor } from '../types';
import type { AttrDef, ElemType, GraphIR, InitializerDef, NodeDef, TensorData, ValueDecl } from './ir';

/** A TransformerLens dimension name, or a literal size (LayerNorm's hook_scale has a trailing 1). */
export type HookDim =
  'batch' | 'pos' | 'head_index' | 'd_head' | 'query_pos' | 'key_pos' | 'd_model' | 'd_mlp' | 'd_vocab' | 'd_vocab_out' | 1;

/** A hook point as a kernel declares it: TransformerLens's name and dimension names. */
export interface HookDecl {
  readonly name: string;
  readonly dims: readonly HookDim[];
}

/**
 * Rewrites a hook tensor before anything reads it (interventions). Receives the builder and the
 * raw tensor's name, returns the name of the tensor consumers should see.
 */
export type HookTransform = (b: GraphBuilder, raw: string, decl: HookDecl) => string;

/** A hook point as emitted into a graph: the declaration plus where it sits. */
export interface EmittedHook extends HookDecl {
  /** Index of the node that produces the hook tensor (the point a function hook cuts at). */
  readonly nodeIndex: number;
}

export class GraphBuilder {
  private readonly nodes: NodeDef[] = [];
  private readonly initializers = new Map<string, InitializerDef>();
  private readonly inputs: ValueDecl[] = [];
  private readonly outputs: ValueDecl[] = [];
  private readonly types = new Map<string, ElemType>();
  private readonly constCache = new Map<string, string>();
  private readonly memo = new Map<string, string>();
  private readonly hooks: EmittedHook[] = [];
  private counter = 0;

  constructor(
    private readonly name: string,
    private readonly transforms: ReadonlyMap<string, HookTransform> = new Map(),
  ) {}

  /** A fresh internal tensor name; the '/' keeps it out of TransformerLens's namespace. */
  fresh(hint: string): string {
    this.counter += 1;
    return `${hint}/${this.counter}`;
  }

  input(name: string, type: ElemType, dims: readonly (number | string)[] | null): string {
    this.inputs.push({ name, type, dims });
    this.types.set(name, type);
    return name;
  }

  output(name: string, dims: readonly (number | string)[] | null): void {
    const type = this.typeOf(name);
    this.outputs.push({ name, type, dims });
  }

  typeOf(name: string): ElemType {
    const t = this.types.get(name);
    if (t === undefined) throw new Error(`graph builder: unknown tensor '${name}'`);
    return t;
  }

  /** A weight as an initializer; the name is TransformerLens's parameter name when there is one. */
  weight(name: string, t: Tensor, dims: readonly number[] = t.dims): string {
    const size = dims.reduce((a, b) => a * b, 1);
    // A 16-bit weight is named by its source, not decoded: building a graph would otherwise make
    // a float32 copy of the whole model (weightInputs.ts feeds the source).
    const half = halfSourceOf(t);
    const length = half?.bits.length ?? t.data.length;
    if (size !== length) {
      throw new Error(`weight '${name}': ${length} values do not fill shape [${dims.join(', ')}]`);
    }
    if (half === undefined) return this.addInitializer(name, 'float32', dims, t.data);
    return this.define({
      name,
      type: 'float32',
      dims: [...dims],
      half,
      get data(): Float32Array {
        return t.data;
      },
    });
  }

  private addInitializer(name: string, type: ElemType, dims: readonly number[], data: TensorData): string {
    return this.define({ name, type, dims: [...dims], data });
  }

  private define(t: InitializerDef): string {
    if (this.types.has(t.name)) throw new Error(`graph builder: tensor '${t.name}' defined twice`);
    this.initializers.set(t.name, t);
    this.types.set(t.name, t.type);
    return t.name;
  }

  /** A small constant, shared between all users with the same contents. */
  constant(type: ElemType, values: readonly number[], dims: readonly number[]): string {
    const key = `${type}:${dims.join('x')}:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit !== undefined) return hit;
    const data: TensorData =
      type === 'float32'
        ? Float32Array.from(values)
        : type === 'int64'
          ? BigInt64Array.from(values.map((v) => BigInt(v)))
          : Uint8Array.from(values);
    const name = this.addInitializer(this.fresh('const'), type, dims, data);
    this.constCache.set(key, name);
    return name;
  }

  /** A float32 constant tensor from data (masks). */
  constantData(hint: string, type: ElemType, dims: readonly number[], data: TensorData): string {
    return this.addInitializer(this.fresh(hint), type, dims, data);
  }

  scalarF(value: number): string {
    return this.constant('float32', [value], []);
  }

  ints(values: readonly number[]): string {
    return this.constant('int64', values, [values.length]);
  }

  /** Emits one node with one output; the output type follows the first input unless given. */
  op(op: string, inputs: readonly string[], attrs?: Record<string, AttrDef>, opts: { out?: string; type?: ElemType } = {}): string {
    const out = opts.out ?? this.fresh(op);
    const type = opts.type ?? this.typeOf(inputs[0] ?? '');
    for (const i of inputs) this.typeOf(i); // fail early on a typo'd tensor name
    if (this.types.has(out)) throw new Error(`graph builder: tensor '${out}' defined twice`);
    this.nodes.push({ op, name: `${op}:${out}`, inputs: [...inputs], outputs: [out], ...(attrs ? { attrs } : {}) });
    this.types.set(out, type);
    return out;
  }

  /** Emits one node with several outputs (TopK: values and indices), typed one by one. */
  opMulti(op: string, inputs: readonly string[], types: readonly ElemType[], attrs?: Record<string, AttrDef>): string[] {
    for (const i of inputs) this.typeOf(i);
    const outs = types.map(() => this.fresh(op));
    this.nodes.push({ op, name: `${op}:${outs[0]!}`, inputs: [...inputs], outputs: outs, ...(attrs ? { attrs } : {}) });
    outs.forEach((o, k) => this.types.set(o, types[k]!));
    return outs;
  }

  /** True when the graph already names `name` (a hook point, a weight): readouts read tensors by name. */
  has(name: string): boolean {
    return this.types.has(name);
  }

  /** Computes a graph-wide helper once (positions, causal mask) and reuses it. */
  once(key: string, make: () => string): string {
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const v = make();
    this.memo.set(key, v);
    return v;
  }

  /**
   * Names a hook point: the tensor `raw` becomes the graph tensor `decl.name` (after any
   * intervention registered for it), and consumers must read the returned name.
   */
  hook(decl: HookDecl, raw: string): string {
    const transform = this.transforms.get(decl.name);
    const value = transform ? transform(this, raw, decl) : raw;
    this.op('Identity', [value], undefined, { out: decl.name });
    this.hooks.push({ ...decl, nodeIndex: this.nodes.length - 1 });
    return decl.name;
  }

  emittedHooks(): readonly EmittedHook[] {
    return this.hooks;
  }

  build(): GraphIR {
    return {
      name: this.name,
      nodes: [...this.nodes],
      initializers: new Map(this.initializers),
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      types: new Map(this.types),
    };
  }
}
