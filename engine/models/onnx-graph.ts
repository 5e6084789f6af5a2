/**
 * Just enough of the ONNX protobuf to see a model's graph: its nodes, their
 * op types and attributes, and the graph's inputs and outputs by name. Used to
 * recognise model shapes the engine can run faster than the generic runtime
 * (tree ensembles); everything else still runs in onnxruntime.
 */

export type AttrValue = number | string | readonly number[] | readonly string[];

export interface OnnxNode {
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: ReadonlyMap<string, AttrValue>;
}

export interface OnnxGraph {
  readonly nodes: readonly OnnxNode[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly initializers: ReadonlySet<string>;
}

class Reader {
  i = 0;
  constructor(readonly buf: Uint8Array, readonly view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)) {}

  get done(): boolean {
    return this.i >= this.buf.length;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let n = 0; n < 10; n++) {
      if (this.i >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.i++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result >= 2 ** 63 ? result - 2 ** 64 : result;
      mul *= 128;
    }
    throw new Error('varint too long');
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (len < 0 || this.i + len > this.buf.length) throw new Error('truncated length-delimited field');
    const out = this.buf.subarray(this.i, this.i + len);
    this.i += len;
    return out;
  }

  float(): number {
    if (this.i + 4 > this.buf.length) throw new Error('truncated fixed32');
    const v = this.view.getFloat32(this.i, true);
    this.i += 4;
    return v;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.i += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
    if (this.i > this.buf.length) throw new Error('truncated field');
  }
}

const utf8 = new TextDecoder();

function* fields(buf: Uint8Array): Generator<[number, number, Reader]> {
  const r = new Reader(buf);
  while (!r.done) {
    const key = r.varint();
    yield [Math.floor(key / 8), key % 8, r];
  }
}

function packedFloats(b: Uint8Array): number[] {
  const r = new Reader(b);
  const out: number[] = [];
  while (!r.done) out.push(r.float());
  return out;
}

function packedInts(b: Uint8Array): number[] {
  const r = new Reader(b);
  const out: number[] = [];
  while (!r.done) out.push(r.varint());
  return out;
}

function attribute(buf: Uint8Array): [string, AttrValue | undefined] {
  let name = '';
  let value: AttrValue | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  for (const [no, wire, r] of fields(buf)) {
    if (no === 1 && wire === 2) name = utf8.decode(r.bytes());
    else if (no === 2 && wire === 5) value = r.float();
    else if (no === 3 && wire === 0) value = r.varint();
    else if (no === 4 && wire === 2) value = utf8.decode(r.bytes());
    else if (no === 7 && wire === 2) floats.push(...packedFloats(r.bytes()));
    else if (no === 7 && wire === 5) floats.push(r.float());
    else if (no === 8 && wire === 2) ints.push(...packedInts(r.bytes()));
    else if (no === 8 && wire === 0) ints.push(r.varint());
    else if (no === 9 && wire === 2) strings.push(utf8.decode(r.bytes()));
    else r.skip(wire);
  }
  if (floats.length) value = floats;
  else if (ints.length) value = ints;
  else if (strings.length) value = strings;
  return [name, value];
}

function node(buf: Uint8Array): OnnxNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attrs = new Map<string, AttrValue>();
  let opType = '';
  let domain = '';
  for (const [no, wire, r] of fields(buf)) {
    if (no === 1 && wire === 2) inputs.push(utf8.decode(r.bytes()));
    else if (no === 2 && wire === 2) outputs.push(utf8.decode(r.bytes()));
    else if (no === 4 && wire === 2) opType = utf8.decode(r.bytes());
    else if (no === 7 && wire === 2) domain = utf8.decode(r.bytes());
    else if (no === 5 && wire === 2) {
      const [k, v] = attribute(r.bytes());
      if (v !== undefined) attrs.set(k, v);
    } else r.skip(wire);
  }
  return { opType, domain, inputs, outputs, attrs };
}

function valueInfoName(buf: Uint8Array): string {
  for (const [no, wire, r] of fields(buf)) {
    if (no === 1 && wire === 2) return utf8.decode(r.bytes());
    r.skip(wire);
  }
  return '';
}

function tensorName(buf: Uint8Array): string {
  for (const [no, wire, r] of fields(buf)) {
    if (no === 8 && wire === 2) return utf8.decode(r.bytes());
    r.skip(wire);
  }
  return '';
}

/** The main graph of an ONNX model, or undefined when the bytes are not a readable ModelProto. */
export function readOnnxGraph(model: Uint8Array): OnnxGraph | undefined {
  try {
    for (const [no, wire, r] of fields(model)) {
      if (no !== 7 || wire !== 2) {
        r.skip(wire);
        continue;
      }
      const nodes: OnnxNode[] = [];
      const inputs: string[] = [];
      const outputs: string[] = [];
      const initializers = new Set<string>();
      for (const [gno, gwire, g] of fields(r.bytes())) {
        if (gno === 1 && gwire === 2) nodes.push(node(g.bytes()));
        else if (gno === 5 && gwire === 2) initializers.add(tensorName(g.bytes()));
        else if (gno === 11 && gwire === 2) inputs.push(valueInfoName(g.bytes()));
        else if (gno === 12 && gwire === 2) outputs.push(valueInfoName(g.bytes()));
        else g.skip(gwire);
      }
      return { nodes, inputs: inputs.filter((n) => !initializers.has(n)), outputs, initializers };
    }
  } catch {
    return undefined;
  }
  return undefined;
}
