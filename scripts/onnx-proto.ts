// The ONNX encoder behind scripts/onnx-builder.ts: a ModelProto from a plain spec.
//
// The schema below is a hand-written subset of onnx/onnx.proto3 (field numbers checked against it):
// only the messages and fields these builders write. Encoding is deterministic: the same arguments
// always give the same bytes (protobufjs writes fields in declaration order, no maps, no timestamps).
//
//   const bytes = logisticModel([0.5, -1, 2], 0.1);            // features [N,3] -> psale [N,1]
//   const mlp = mlpModel([{ weights: w1, bias: b1 }, { weights: w2, bias: b2 }]);
//   const gbdt = treeEnsembleModel([{ feature: 0, threshold: 0.5, left: { leaf: -1 }, right: { leaf: 1 } }]);
import protobuf from 'protobufjs';
import type { Type } from 'protobufjs';

const ONNX_PROTO_SUBSET = `
syntax = "proto3";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10;
  }
  string name = 1;
  string doc_string = 13;
  AttributeType type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
}

message ValueInfoProto {
  string name = 1;
  TypeProto type = 2;
  string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  string domain = 7;
  repeated AttributeProto attribute = 5;
  string doc_string = 6;
}

message ModelProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  string producer_name = 2;
  string producer_version = 3;
  string domain = 4;
  int64 model_version = 5;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message StringStringEntryProto {
  string key = 1;
  string value = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  enum DataLocation { DEFAULT = 0; EXTERNAL = 1; }
  repeated int64 dims = 1;
  int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated int64 int64_data = 7 [packed = true];
  string name = 8;
  string doc_string = 12;
  bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  DataLocation data_location = 14;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    int32 elem_type = 1;
    TensorShapeProto shape = 2;
  }
  message Sequence {
    TypeProto elem_type = 1;
  }
  message Map {
    int32 key_type = 1;
    TypeProto value_type = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
    Sequence sequence_type = 4;
    Map map_type = 5;
  }
  string denotation = 6;
}

message OperatorSetIdProto {
  string domain = 1;
  int64 version = 2;
}
`;

let modelType: Type | undefined;
function getModelType(): Type {
  modelType ??= protobuf.parse(ONNX_PROTO_SUBSET, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** TensorProto.DataType values (onnx.proto3). */
export const ONNX_DATA_TYPE = { float: 1, int32: 6, int64: 7, float16: 10, double: 11 } as const;
export type OnnxElemType = keyof typeof ONNX_DATA_TYPE;

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** ir_version written into every model (ONNX 1.10+ / onnxruntime >= 1.9). */
export const IR_VERSION = 8;
/** Default opsets: the standard domain at 17 and ai.onnx.ml at 3. */
export const DEFAULT_OPSETS: readonly OnnxOpset[] = [
  { domain: '', version: 17 },
  { domain: 'ai.onnx.ml', version: 3 },
];

export interface OnnxOpset {
  readonly domain: string;
  readonly version: number;
}

/** A graph input or output; a string dimension is symbolic (e.g. 'N'). */
export interface OnnxValueInfo {
  readonly name: string;
  readonly elemType?: OnnxElemType;
  readonly shape: readonly (number | string)[];
  /** A sequence of maps from `key` to float instead of a tensor (what skl2onnx's ZipMap writes); `shape` is then ignored. */
  readonly seqMap?: { readonly key: 'int64' | 'string' };
}

/** One attribute value; the key says which AttributeProto field carries it. */
export type OnnxAttribute =
  | { readonly f: number }
  | { readonly i: number }
  | { readonly s: string }
  | { readonly floats: readonly number[] }
  | { readonly ints: readonly number[] }
  | { readonly strings: readonly string[] };

export interface OnnxNode {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly domain?: string;
  /** Written in insertion order. */
  readonly attributes?: Readonly<Record<string, OnnxAttribute>>;
}

/** Where an initializer's bytes live when they are not inside the model (data_location = EXTERNAL). */
export interface OnnxExternalData {
  readonly location: string;
  readonly offset?: number;
  readonly length?: number;
}

export interface OnnxInitializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly elemType?: OnnxElemType;
  /** Row-major values; written as little-endian raw_data. Ignored when `external` is set. */
  readonly values?: ArrayLike<number>;
  readonly external?: OnnxExternalData;
}

export interface OnnxModelSpec {
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly nodes: readonly OnnxNode[];
  readonly initializers?: readonly OnnxInitializer[];
  readonly opsets?: readonly OnnxOpset[];
  readonly producer?: string;
  readonly graphName?: string;
  readonly docString?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

function valueInfo(v: OnnxValueInfo): object {
  if (v.seqMap) {
    const key = v.seqMap.key === 'int64' ? ONNX_DATA_TYPE.int64 : 8;
    return { name: v.name, type: { sequence_type: { elem_type: { map_type: { key_type: key, value_type: { tensor_type: { elem_type: ONNX_DATA_TYPE.float } } } } } } };
  }
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: ONNX_DATA_TYPE[v.elemType ?? 'float'],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

function rawData(values: ArrayLike<number>, elemType: OnnxElemType): Uint8Array {
  if (elemType === 'float16') throw new Error('float16 initializers are not written: keep weights float32 and Cast (to: 10) inside the graph');
  const size = elemType === 'float' || elemType === 'int32' ? 4 : 8;
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (elemType === 'float') view.setFloat32(i * 4, x, true);
    else if (elemType === 'int32') view.setInt32(i * 4, x, true);
    else if (elemType === 'int64') view.setBigInt64(i * 8, BigInt(Math.trunc(x)), true);
    else view.setFloat64(i * 8, x, true);
  }
  return out;
}

function tensor(t: OnnxInitializer): object {
  const elemType = t.elemType ?? 'float';
  const base = { dims: [...t.dims], data_type: ONNX_DATA_TYPE[elemType], name: t.name };
  if (t.external) {
    const entries: { key: string; value: string }[] = [{ key: 'location', value: t.external.location }];
    if (t.external.offset !== undefined) entries.push({ key: 'offset', value: String(t.external.offset) });
    if (t.external.length !== undefined) entries.push({ key: 'length', value: String(t.external.length) });
    return { ...base, external_data: entries, data_location: 1 };
  }
  const values = t.values ?? [];
  const expected = t.dims.reduce((a, b) => a * b, 1);
  if (values.length !== expected) {
    throw new Error(`initializer '${t.name}': ${values.length} values for dims [${t.dims.join(', ')}] (expected ${expected})`);
  }
  return { ...base, raw_data: rawData(values, elemType) };
}

const utf8 = new TextEncoder();

function attribute(name: string, a: OnnxAttribute): object {
  if ('f' in a) return { name, type: ATTR.FLOAT, f: a.f };
  if ('i' in a) return { name, type: ATTR.INT, i: a.i };
  if ('s' in a) return { name, type: ATTR.STRING, s: utf8.encode(a.s) };
  if ('floats' in a) return { name, type: ATTR.FLOATS, floats: [...a.floats] };
  if ('ints' in a) return { name, type: ATTR.INTS, ints: [...a.ints] };
  return { name, type: ATTR.STRINGS, strings: a.strings.map((s) => utf8.encode(s)) };
}

function node(n: OnnxNode, index: number): object {
  return {
    input: [...n.inputs],
    output: [...n.outputs],
    name: n.name ?? `${n.opType}_${index}`,
    op_type: n.opType,
    domain: n.domain ?? '',
    attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
  };
}

/** Encode a whole model (ModelProto) to bytes. */
export function buildOnnxModel(spec: OnnxModelSpec): Uint8Array {
  const type = getModelType();
  const payload = {
    ir_version: IR_VERSION,
    opset_import: (spec.opsets ?? DEFAULT_OPSETS).map((o) => ({ domain: o.domain, version: o.version })),
    producer_name: spec.producer ?? 'airmail-onnx-builder',
    producer_version: '1',
    model_version: 1,
    doc_string: spec.docString ?? '',
    graph: {
      node: spec.nodes.map(node),
      name: spec.graphName ?? 'airmail',
      initializer: (spec.initializers ?? []).map(tensor),
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
    },
    metadata_props: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  const problem = type.verify(payload);
  if (problem) throw new Error(`ONNX model does not fit the schema: ${problem}`);
  return type.encode(type.fromObject(payload)).finish();
}
