/**
 * Remote payloads → tables. Whatever an upstream answers (JSON rows, JSON
 * scalars, Arrow IPC, Redis set/hash/list/zset replies) becomes the same
 * shared-memory Table a file dataset is, so a source reads it with the same
 * helpers and the main thread can hand it to every worker without a copy.
 */
import { tableFromIPC } from 'apache-arrow';
import type { RedisValueType } from '../api.js';
import { tableFromArrow, tableFromRows, type Table } from '../dataset.js';
import { AirmailError } from '../errors.js';

/**
 * A string that is an integer (or a finite number) becomes that number: Redis answers strings only.
 * An integer past ±(2^53 − 1) stays text: as a number it would be rounded (or be the one of two
 * neighbours, 9007199254740992 beside 9007199254740993, that happens to survive).
 */
function numeric(s: string): string | number {
  if (s.length === 0 || s.length > 24) return s;
  const n = Number(s);
  return Number.isFinite(n) && String(n) === s.trim() && Math.abs(n) <= Number.MAX_SAFE_INTEGER ? n : s;
}

/** A sorted-set score as Redis spells it: a double, or `inf` / `-inf` (which Number() reads as NaN). */
function zsetScore(s: string): number {
  const t = s.toLowerCase();
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  return Number(s);
}

/** JSON (already parsed) → table: an array of row objects, an array of scalars (column `value`), or either under `path`. */
export function tableFromJson(name: string, body: unknown, path?: string): Table {
  let v = body;
  if (path) {
    for (const seg of path.split('.')) {
      if (v === null || typeof v !== 'object' || !Object.hasOwn(v, seg)) {
        throw new AirmailError('SOURCE_FAILED', `${name}: the response has no field '${path}'`);
      }
      v = (v as Record<string, unknown>)[seg];
    }
  } else if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    // Common envelopes: {items: [...]}, {rows: [...]}, {data: [...]}.
    const o = v as Record<string, unknown>;
    v = o['items'] ?? o['rows'] ?? o['data'] ?? v;
  }
  if (!Array.isArray(v)) throw new AirmailError('SOURCE_FAILED', `${name}: expected a JSON array of rows or values${path ? ` at '${path}'` : ''}`);
  if (v.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))) return tableFromRows(name, v as Record<string, unknown>[], undefined);
  if (v.every((r) => r === null || typeof r !== 'object')) return tableFromRows(name, v.map((x) => ({ value: x })), undefined);
  throw new AirmailError('SOURCE_FAILED', `${name}: a JSON array must hold only row objects or only scalars`);
}

export function tableFromArrowBytes(name: string, bytes: Uint8Array): Table {
  try {
    return tableFromArrow(name, tableFromIPC(bytes), undefined, name);
  } catch (err) {
    if (err instanceof AirmailError) throw err;
    throw new AirmailError('SOURCE_FAILED', `${name}: not a valid Arrow IPC payload: ${(err as Error).message}`);
  }
}

export function tableFromBytes(name: string, bytes: Uint8Array, format: 'json' | 'arrow', path?: string): Table {
  if (format === 'arrow') return tableFromArrowBytes(name, bytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new AirmailError('SOURCE_FAILED', `${name}: the body is not JSON: ${(err as Error).message}`);
  }
  return tableFromJson(name, parsed, path);
}

/** A Redis reply of the given type → table. `reply` is what ioredis returns for the command of that type. */
export function tableFromRedis(name: string, type: RedisValueType, reply: unknown): Table {
  switch (type) {
    case 'set':
    case 'list':
      return tableFromRows(name, (reply as string[]).map((s) => ({ value: numeric(s) })), undefined);
    case 'hash':
      return tableFromRows(name, Object.entries(reply as Record<string, string>).map(([field, value]) => ({ field: numeric(field), value: numeric(value) })), undefined);
    case 'zset': {
      const flat = reply as string[];
      const rows: Record<string, unknown>[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) rows.push({ value: numeric(flat[i]!), score: zsetScore(flat[i + 1]!) });
      return tableFromRows(name, rows, undefined);
    }
    case 'json':
      if (reply === null) return tableFromRows(name, [], undefined);
      return tableFromBytes(name, reply as Buffer, 'json');
    case 'arrow':
      if (reply === null) return tableFromRows(name, [], undefined);
      return tableFromArrowBytes(name, reply as Buffer);
  }
}
