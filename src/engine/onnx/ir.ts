// A small in-memory ONNX graph: what the builder produces, what the cutter splits and what
// the encoder turns into a ModelProto. Kept separate from protobuf so graphs can be
// inspected and cut in plain TypeScript.

/** float16 only for weights stored at half precision (weightDtype.ts); graphs compute in float32. */
export type ElemType = 'float32' | 'float16' | 'int64' | 'bool';

/** Uint16Array holds float16 bits. */
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Uint8Array;

/** A constant tensor stored in the graph (weights and small index constants). */
export interface InitializerDef {
  readonly name: string;
  readonly type: ElemType;
  readonly dims: readonly number[];
  readonly data: TensorData;
  /**
   * For a float32 weight the model stores at half precision (halfSource.ts): its float16 bits. A
   * session is fed these and casts them (weightInputs.ts); `data` decodes them only if read.
   */
  readonly half?: Uint16Array;
}

/** An initializer's size as the graph computes with it (a half-stored weight counts as float32), without decoding. */
export function initializerBytes(t: InitializerDef): number {
  return t.half !== undefined ? t.half.length * Float32Array.BYTES_PER_ELEMENT : t.data.byteLength;
}

/** A graph input or output: numeric dims are fixed, string dims are symbolic ('batch', 'pos'). */
export interface ValueDecl {
  readonly name: string;
  readonly type: ElemType;
  /** null when the shape is left to onnxruntime's inference (cut-graph inputs). */
  readonly dims: readonly (number | string)[] | null;
}

export type AttrDef =
  { readonly i: number } | { readonly f: number } | { readonly ints: readonly number[] } | { readonly floats: readonly number[] };

export interface NodeDef {
  readonly op: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: Readonly<Record<string, AttrDef>>;
}

export interface GraphIR {
  readonly name: string;
  /** In emission order, which is a topological order (every builder emits producers first). */
  readonly nodes: readonly NodeDef[];
  readonly initializers: ReadonlyMap<string, InitializerDef>;
  readonly inputs: readonly ValueDecl[];
  readonly outputs: readonly ValueDecl[];
  /** Element type of every tensor the graph names (inputs, initializers, node outputs). */
  readonly types: ReadonlyMap<string, ElemType>;
}

export const OPSET_VERSION = 17;
export const IR_VERSION = 8;
