/**
 * A table as bytes for the Redis cache: a JSON header (name, length, column
 * types, dictionaries) then each numeric column's raw little-endian bytes,
 * 8-byte aligned. Decoding copies into SharedArrayBuffers, so a table read
 * from Redis can be handed to every worker like any other.
 */
import type { Column } from '../api.js';
import { isNumeric } from '../api.js';
import { Table, type DatasetHandle } from '../dataset.js';
import type { Codec } from '../cache/cache.js';

type ColumnHeader =
  | { readonly name: string; readonly type: 'i32' | 'f32' | 'f64'; readonly bytes: number }
  | { readonly name: string; readonly type: 'dict'; readonly dictionary: readonly string[]; readonly bytes: number }
  | { readonly name: string; readonly type: 'string'; readonly values: readonly (string | null)[] };

interface Header {
  readonly v: 1;
  readonly name: string;
  readonly key: string | null;
  readonly length: number;
  readonly columns: readonly ColumnHeader[];
  readonly booleans?: readonly string[];
  /** Timestamp columns (an Arrow answer's Date/Timestamp): answered as ISO text, compared by windows. */
  readonly instants?: readonly string[];
}

const pad8 = (n: number): number => (n + 7) & ~7;

export function encodeTable(t: DatasetHandle): Uint8Array {
  const headers: ColumnHeader[] = [];
  const parts: Uint8Array[] = [];
  for (const [name, c] of Object.entries(t.columns)) {
    if (isNumeric(c)) {
      const type = c instanceof Int32Array ? 'i32' : c instanceof Float32Array ? 'f32' : 'f64';
      headers.push({ name, type, bytes: c.byteLength });
      parts.push(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
    } else if (c.kind === 'dict') {
      headers.push({ name, type: 'dict', dictionary: c.dictionary, bytes: c.codes.byteLength });
      parts.push(new Uint8Array(c.codes.buffer, c.codes.byteOffset, c.codes.byteLength));
    } else {
      headers.push({ name, type: 'string', values: c.values });
    }
  }
  const header: Header = { v: 1, name: t.name, key: t.key ?? null, length: t.length, columns: headers, ...(t.booleans ? { booleans: t.booleans } : {}), ...(t.instants ? { instants: t.instants } : {}) };
  const json = Buffer.from(JSON.stringify(header));
  let size = pad8(4 + json.byteLength);
  for (const p of parts) size += pad8(p.byteLength);
  const out = Buffer.alloc(size);
  out.writeUInt32LE(json.byteLength, 0);
  json.copy(out, 4);
  let at = pad8(4 + json.byteLength);
  for (const p of parts) {
    out.set(p, at);
    at += pad8(p.byteLength);
  }
  return out;
}

function shared<T extends Int32Array | Float32Array | Float64Array>(Ctor: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }, bytes: Uint8Array, n: number): T {
  const sab = new SharedArrayBuffer(Math.max(1, n) * Ctor.BYTES_PER_ELEMENT);
  new Uint8Array(sab).set(bytes);
  const full = new Ctor(sab);
  return (full.length === n ? full : full.subarray(0, n)) as T;
}

export function decodeTable(bytes: Uint8Array): Table {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = buf.readUInt32LE(0);
  const header = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as Header;
  if (header.v !== 1) throw new Error(`unknown table encoding ${String(header.v)}`);
  let at = pad8(4 + len);
  const columns: Record<string, Column> = {};
  for (const h of header.columns) {
    if (h.type === 'string') {
      columns[h.name] = { kind: 'string', values: h.values };
      continue;
    }
    const raw = buf.subarray(at, at + h.bytes);
    at += pad8(h.bytes);
    if (h.type === 'dict') columns[h.name] = { kind: 'dict', codes: shared(Int32Array, raw, h.bytes / 4), dictionary: h.dictionary };
    else if (h.type === 'i32') columns[h.name] = shared(Int32Array, raw, h.bytes / 4);
    else if (h.type === 'f32') columns[h.name] = shared(Float32Array, raw, h.bytes / 4);
    else columns[h.name] = shared(Float64Array, raw, h.bytes / 8);
  }
  return new Table({ name: header.name, key: header.key ?? undefined, length: header.length, columns, ...(header.booleans ? { booleans: header.booleans } : {}), ...(header.instants ? { instants: header.instants } : {}) });
}

/** Codec for the cache: values are DatasetHandles (plain data, so they cross threads). */
export const tableCodec: Codec<DatasetHandle> = {
  encode: (h) => encodeTable(h),
  decode: (b) => decodeTable(b).handle,
};

/** Bytes a table holds, for the LRU's byte bound. */
export function tableBytes(h: DatasetHandle): number {
  let n = 64;
  for (const c of Object.values(h.columns)) {
    if (isNumeric(c)) n += c.byteLength;
    else if (c.kind === 'dict') n += c.codes.byteLength + c.dictionary.reduce((s, d) => s + 16 + d.length * 2, 0);
    else n += c.values.reduce((s, d) => s + 16 + (d?.length ?? 0) * 2, 0);
  }
  return n;
}
