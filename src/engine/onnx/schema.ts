// The subset of onnx.proto that Model Lens writes, as a protobufjs reflection schema.
//
// Why protobufjs with a schema-as-data instead of generated code or a hand-rolled writer:
// the encoder is already a dependency, a JSON descriptor needs no codegen step in the build,
// and the field numbers below are the whole contract with onnxruntime's parser, in one
// readable place. Only messages the graph builder emits are listed; unknown fields are
// simply never written. Field numbers follow onnx/onnx.proto (IR version 8).
import protobuf from 'protobufjs';

const schema: protobuf.INamespace = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            ir_version: { type: 'int64', id: 1 },
            producer_name: { type: 'string', id: 2 },
            producer_version: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            model_version: { type: 'int64', id: 5 },
            doc_string: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opset_import: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
        OperatorSetIdProto: {
          fields: {
            domain: { type: 'string', id: 1 },
            version: { type: 'int64', id: 2 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            doc_string: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            op_type: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            data_type: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            raw_data: { type: 'bytes', id: 9 },
            external_data: { rule: 'repeated', type: 'StringStringEntryProto', id: 13 },
            // TensorProto.DataLocation: 0 DEFAULT (raw_data), 1 EXTERNAL (external_data says where).
            data_location: { type: 'int32', id: 14 },
          },
        },
        StringStringEntryProto: {
          fields: {
            key: { type: 'string', id: 1 },
            value: { type: 'string', id: 2 },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: 'string', id: 1 },
            type: { type: 'TypeProto', id: 2 },
          },
        },
        TypeProto: {
          fields: {
            tensor_type: { type: 'TypeProtoTensor', id: 1 },
          },
        },
        // TypeProto.Tensor in onnx.proto; flattened to a sibling because only the tensor case is used.
        TypeProtoTensor: {
          fields: {
            elem_type: { type: 'int32', id: 1 },
            shape: { type: 'TensorShapeProto', id: 2 },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: 'repeated', type: 'TensorShapeDimension', id: 1 },
          },
        },
        // TensorShapeProto.Dimension: dim_value and dim_param are a oneof; we set exactly one.
        TensorShapeDimension: {
          fields: {
            dim_value: { type: 'int64', id: 1 },
            dim_param: { type: 'string', id: 2 },
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(schema);

/** onnx.ModelProto, resolved once. */
export const ModelProtoType: protobuf.Type = root.lookupType('onnx.ModelProto');

/** TensorProto.DataType values used here. */
export const OnnxDataType = { FLOAT: 1, UINT16: 4, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
/** TensorProto.DataLocation.EXTERNAL. */
export const ONNX_DATA_LOCATION_EXTERNAL = 1;
/** AttributeProto.AttributeType values used here. */
export const OnnxAttrType = { FLOAT: 1, INT: 2, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;
