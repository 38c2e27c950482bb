// A small in-memory ONNX graph: what the builder produces, what the cutter splits and what
// the encoder turns into a ModelProto. Kept separate from protobuf so graphs can be
// inspected and cut in plain TypeScript.

import type { HalfSource } from '../halfSource';

/**
 * Graphs compute in float32. float16 and uint16 only for weights stored at 16 bits (weightDtype.ts:
 * uint16 carries bfloat16's bits) and int32 only for the indices that decode those (weightInputs.ts).
 */
export type ElemType = 'float32' | 'float16' | 'uint16' | 'int32' | 'int64' | 'bool';

/** Uint16Array holds float16 or bfloat16 bits. */
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Uint8Array;

/** A constant tensor stored in the graph (weights and small index constants). */
export interface InitializerDef {
  readonly name: string;
  readonly type: ElemType;
  readonly dims: readonly number[];
  readonly data: TensorData;
  /**
   * For a float32 weight the model stores at 16 bits (halfSource.ts): those bits. A session is fed
   * them and decodes them in the graph (weightInputs.ts); `data` decodes them only if read.
   */
  readonly half?: HalfSource;
}

/** An initializer's size as the graph computes with it (a 16-bit weight counts as float32), without decoding. */
export function initializerBytes(t: InitializerDef): number {
  return t.half !== undefined ? t.half.bits.length * Float32Array.BYTES_PER_ELEMENT : t.data.byteLength;
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
  /** The default domain's opset; OPSET_VERSION when absent (opsetUpgrade.ts makes a later one). */
  readonly opset?: number;
}

export const OPSET_VERSION = 17;
export const IR_VERSION = 8;
