// GraphIR → ModelProto bytes (protobufjs with the reflection schema in schema.ts).
import { ModelProtoType, ONNX_DATA_LOCATION_EXTERNAL, OnnxAttrType, OnnxDataType } from './schema';
import { WeightFile } from './weightFile';
import { IR_VERSION, OPSET_VERSION, type AttrDef, type ElemType, type GraphIR, type InitializerDef, type ValueDecl } from './ir';

const DATA_TYPE: Record<ElemType, number> = {
  float32: OnnxDataType.FLOAT,
  float16: OnnxDataType.FLOAT16,
  uint16: OnnxDataType.UINT16,
  int32: OnnxDataType.INT32,
  int64: OnnxDataType.INT64,
  bool: OnnxDataType.BOOL,
};

/** raw_data is little-endian; a typed array's bytes are in platform order, which is LE on every target onnxruntime-node ships for. */
function rawBytes(t: InitializerDef): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function tensorProto(t: InitializerDef, weights: WeightFile | null): Record<string, unknown> {
  const head = { name: t.name, dims: [...t.dims], data_type: DATA_TYPE[t.type] };
  if (weights === null || !WeightFile.isExternal(t)) return { ...head, raw_data: rawBytes(t) };
  const ref = weights.place(t);
  return {
    ...head,
    data_location: ONNX_DATA_LOCATION_EXTERNAL,
    external_data: [
      { key: 'location', value: ref.location },
      { key: 'offset', value: String(ref.offset) },
      { key: 'length', value: String(ref.length) },
    ],
  };
}

function valueInfo(v: ValueDecl): Record<string, unknown> {
  const tensorType: Record<string, unknown> = { elem_type: DATA_TYPE[v.type] };
  if (v.dims !== null) {
    tensorType.shape = {
      dim: v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })),
    };
  }
  return { name: v.name, type: { tensor_type: tensorType } };
}

function attribute(name: string, a: AttrDef): Record<string, unknown> {
  if ('i' in a) return { name, type: OnnxAttrType.INT, i: a.i };
  if ('f' in a) return { name, type: OnnxAttrType.FLOAT, f: a.f };
  if ('ints' in a) return { name, type: OnnxAttrType.INTS, ints: [...a.ints] };
  return { name, type: OnnxAttrType.FLOATS, floats: [...a.floats] };
}

/**
 * Serialises a graph as an ONNX model (default domain, opset 17 unless the graph says otherwise). With `weights`, initializers of
 * INLINE_LIMIT_BYTES or more are ONNX external data in that file (written on first use) and the
 * result only loads from a path in weights.dir; without, every initializer is inline raw_data
 * (the whole model must then stay under protobuf's 2 GB).
 */
export function encodeModel(g: GraphIR, weights: WeightFile | null = null): Uint8Array {
  const message = {
    ir_version: IR_VERSION,
    producer_name: 'model-lens',
    opset_import: [{ domain: '', version: g.opset ?? OPSET_VERSION }],
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({
        name: n.name,
        op_type: n.op,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: [...g.initializers.values()].map((t) => tensorProto(t, weights)),
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
    },
  };
  // fromObject would copy every weight buffer through conversion; the plain object already
  // matches the schema, so it is encoded directly.
  return ModelProtoType.encode(message).finish();
}
