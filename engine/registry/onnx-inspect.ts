/**
 * A minimal ONNX protobuf reader: graph inputs and outputs (name, element type, shape) and every
 * tensor whose data lives outside the model (TensorProto.data_location == EXTERNAL, or any
 * external_data entry). Such models are refused: loading one would read a path next to the model.
 * Walks initializers, sparse initializers, node attributes and subgraphs, and model-local functions.
 */
import { RegistryError } from './errors.js';

export interface OnnxIo {
  readonly name: string;
  /** TensorProto.DataType (1 = float, 11 = double, 6 = int32, 7 = int64, 9 = bool). */
  readonly elemType: number;
  /** A number, or a symbolic name ('N'), or null when unknown. */
  readonly shape: readonly (number | string | null)[];
}

export interface OnnxInfo {
  readonly inputs: readonly OnnxIo[];
  readonly outputs: readonly OnnxIo[];
  readonly initializers: ReadonlySet<string>;
  /** Names of tensors whose bytes are stored in external files. */
  readonly externalTensors: readonly string[];
}

type Field = { no: number; wire: number; int: number; bytes: Uint8Array | undefined };

const MAX_DEPTH = 64;

function* fields(buf: Uint8Array): Generator<Field> {
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (let n = 0; n < 10; n++) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new Error('varint too long');
  };
  while (i < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) yield { no, wire, int: varint(), bytes: undefined };
    else if (wire === 1) { i += 8; if (i > buf.length) throw new Error('truncated fixed64'); yield { no, wire, int: 0, bytes: undefined }; }
    else if (wire === 5) { i += 4; if (i > buf.length) throw new Error('truncated fixed32'); yield { no, wire, int: 0, bytes: undefined }; }
    else if (wire === 2) {
      const len = varint();
      if (i + len > buf.length) throw new Error('truncated length-delimited field');
      yield { no, wire, int: 0, bytes: buf.subarray(i, i + len) };
      i += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

const utf8 = new TextDecoder();

function valueInfo(buf: Uint8Array): OnnxIo {
  let name = '';
  let elemType = 0;
  const shape: (number | string | null)[] = [];
  for (const f of fields(buf)) {
    if (f.no === 1 && f.bytes) name = utf8.decode(f.bytes);
    if (f.no === 2 && f.bytes) {
      for (const t of fields(f.bytes)) {
        if (t.no !== 1 || !t.bytes) continue; // tensor_type
        for (const tt of fields(t.bytes)) {
          if (tt.no === 1 && tt.wire === 0) elemType = tt.int;
          if (tt.no === 2 && tt.bytes) {
            for (const d of fields(tt.bytes)) {
              if (d.no !== 1 || !d.bytes) continue;
              let dim: number | string | null = null;
              for (const v of fields(d.bytes)) {
                if (v.no === 1 && v.wire === 0) dim = v.int;
                if (v.no === 2 && v.bytes) dim = utf8.decode(v.bytes);
              }
              shape.push(dim);
            }
          }
        }
      }
    }
  }
  return { name, elemType, shape };
}

interface Walk { external: string[]; depth: number }

function tensor(buf: Uint8Array, w: Walk): string {
  let name = '';
  let external = false;
  for (const f of fields(buf)) {
    if (f.no === 8 && f.bytes) name = utf8.decode(f.bytes);
    if (f.no === 14 && f.wire === 0 && f.int === 1) external = true;
    if (f.no === 13) external = true;
  }
  if (external) w.external.push(name || '(unnamed tensor)');
  return name;
}

function sparseTensor(buf: Uint8Array, w: Walk): void {
  for (const f of fields(buf)) if ((f.no === 1 || f.no === 2) && f.bytes) tensor(f.bytes, w);
}

function attribute(buf: Uint8Array, w: Walk): void {
  for (const f of fields(buf)) {
    if (!f.bytes) continue;
    if (f.no === 5 || f.no === 10) tensor(f.bytes, w);
    else if (f.no === 6 || f.no === 11) graph(f.bytes, { external: w.external, depth: w.depth + 1 });
    else if (f.no === 22 || f.no === 23) sparseTensor(f.bytes, w);
  }
}

function nodes(buf: Uint8Array, w: Walk): void {
  for (const f of fields(buf)) if (f.no === 5 && f.bytes) attribute(f.bytes, w);
}

function graph(buf: Uint8Array, w: Walk, io?: { inputs: OnnxIo[]; outputs: OnnxIo[]; inits: Set<string> }): void {
  if (w.depth > MAX_DEPTH) throw new Error('subgraphs nested too deeply');
  for (const f of fields(buf)) {
    if (!f.bytes) continue;
    if (f.no === 1) nodes(f.bytes, w);
    else if (f.no === 5) { const n = tensor(f.bytes, w); io?.inits.add(n); }
    else if (f.no === 15) sparseTensor(f.bytes, w);
    else if (f.no === 11 && io) io.inputs.push(valueInfo(f.bytes));
    else if (f.no === 12 && io) io.outputs.push(valueInfo(f.bytes));
  }
}

function walkModel(bytes: Uint8Array): { io: { inputs: OnnxIo[]; outputs: OnnxIo[]; inits: Set<string> }; external: string[]; sawGraph: boolean } {
  const io = { inputs: [] as OnnxIo[], outputs: [] as OnnxIo[], inits: new Set<string>() };
  const w: Walk = { external: [], depth: 0 };
  let sawGraph = false;
  for (const f of fields(bytes)) {
    if (f.no === 7 && f.bytes) { sawGraph = true; graph(f.bytes, w, io); }
    if (f.no === 25 && f.bytes) for (const g of fields(f.bytes)) if (g.no === 7 && g.bytes) nodes(g.bytes, w);
  }
  return { io, external: w.external, sawGraph };
}

/** Why an ONNX model that keeps `tensors` in external data files is refused. */
export function externalDataMessage(tensors: readonly string[]): string {
  return `the ONNX model keeps tensors in external data files (${tensors.join(', ')}), which are never read: save a self-contained model (onnx.save(..., save_as_external_data=False))`;
}

/**
 * The tensors of an ONNX model kept in external data files; [] when there are none, or when the
 * bytes do not decode (onnxruntime then says what is wrong with them).
 */
export function externalTensorsOf(bytes: Uint8Array): readonly string[] {
  try {
    return walkModel(bytes).external;
  } catch {
    return [];
  }
}

/** Decodes what the registry needs to know about an ONNX model; throws ARTIFACT_UNSAFE / MODEL_LOAD_FAILED. */
export function inspectOnnx(bytes: Uint8Array): OnnxInfo {
  let walked: ReturnType<typeof walkModel>;
  try {
    walked = walkModel(bytes);
  } catch (err) {
    throw new RegistryError('MODEL_LOAD_FAILED', `the artifact is not an ONNX model (protobuf decode failed: ${(err as Error).message})`);
  }
  const { io, external, sawGraph } = walked;
  if (!sawGraph) throw new RegistryError('MODEL_LOAD_FAILED', 'the artifact is not an ONNX model (no graph)');
  if (external.length) throw new RegistryError('ARTIFACT_UNSAFE', externalDataMessage(external));
  return {
    inputs: io.inputs.filter((i) => !io.inits.has(i.name)),
    outputs: io.outputs,
    initializers: io.inits,
    externalTensors: external,
  };
}

const ELEM: Record<number, 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'string'> = { 1: 'float32', 11: 'float64', 6: 'int32', 7: 'int64', 9: 'bool', 8: 'string' };

export function onnxElemName(t: number): 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'string' | undefined {
  return ELEM[t];
}
