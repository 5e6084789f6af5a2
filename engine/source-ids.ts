/**
 * Item ids from a source, keyed by the item type. Candidates are Union(includes) − Union(excludes)
 * compared by id, so every source's ids must be of the one type the items dataset's key has: a
 * custom or remote source that answers `"2"` for integer ids (ids read from a CSV, a Redis set of
 * numbers, a JSON service) would otherwise add a second item 2 beside the number 2, escape an
 * exclude of 2, and turn every id of the answer into text.
 */
import type { Dataset, SourceResult } from './api.js';
import { isNumeric } from './api.js';
import { AirmailError } from './errors.js';

/** What the item ids are: numbers or text; undefined where no items dataset says. */
export type IdKind = 'number' | 'string';

/** The kind of the items dataset's key column, when the pipeline has an items dataset. */
export function idKindOf(items: Dataset | undefined, key: string): IdKind | undefined {
  if (!items || !items.has(key)) return undefined;
  return isNumeric(items.column(key)) ? 'number' : 'string';
}

/** Numbers hold integers exactly only this far: past it 9007199254740993 reads as 9007199254740992. */
const MAX_ID = Number.MAX_SAFE_INTEGER;
const UNSAFE = 'an item id past ±9007199254740991 is rounded to a neighbour (two ids may merge): ids that large must be text (JSON strings, a text key in the items dataset)';

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * The source's ids as `kind` (numeric text → number, number → text), or SOURCE_FAILED naming the
 * step and the first id that can be no item: null, NaN, a boolean or object, text that is not a
 * number where the ids are numbers, or a number past ±(2^53 − 1), already rounded (as a number, or
 * once converted from text). Ids already of the kind are returned as they are (no copy).
 */
export function keyedIds(res: SourceResult, kind: IdKind | undefined, label: string, describe: string): SourceResult {
  const given = res as unknown;
  if (!given || typeof given !== 'object' || Array.isArray(given) || !(Array.isArray(res.ids) || ArrayBuffer.isView(res.ids))) {
    const what = given === null || given === undefined ? String(given) : Array.isArray(given) ? 'a list' : typeof given !== 'object' ? typeof given : `an object with ids ${res.ids === undefined ? 'missing' : `as ${typeof res.ids}`}`;
    throw new AirmailError('SOURCE_FAILED', `it returned ${what}; a source returns {ids: [...]} (and optionally columns)`, { operator: label });
  }
  const ids = res.ids;
  const bad = (i: number, why: string): never => {
    const shown = JSON.stringify(ids[i]) ?? String(ids[i]);
    throw new AirmailError('SOURCE_FAILED', `it returned ${shown.length > 40 ? `${shown.slice(0, 37)}...` : shown} as an item id (at ${i}): ${why}`, { operator: label });
  };
  if (ids instanceof Int32Array) return kind === 'string' ? withIds(res, Array.from(ids, String)) : res;
  let changed = false;
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) bad(i, 'an item id is a finite number or text');
      if (v > MAX_ID || v < -MAX_ID) bad(i, UNSAFE);
      if (kind === 'string') changed = true;
    } else if (typeof v === 'string') {
      if (kind === 'number') {
        if (!JSON_NUMBER.test(v.trim())) bad(i, `the item ids (${describe}) are numbers`);
        const n = Number(v);
        if (n > MAX_ID || n < -MAX_ID) bad(i, UNSAFE);
        changed = true;
      }
    } else bad(i, `an item id is ${kind === 'number' ? 'a number' : kind === 'string' ? 'text' : 'a number or text'}`);
  }
  if (!changed) return res;
  const out = kind === 'string' ? Array.from(ids as ArrayLike<string | number>, String) : Array.from(ids as ArrayLike<string | number>, Number);
  return withIds(res, out);
}

function withIds(res: SourceResult, ids: readonly (string | number)[]): SourceResult {
  return res.columns ? { ids, columns: res.columns } : { ids };
}
