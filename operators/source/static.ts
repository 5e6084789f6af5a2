/**
 * A fixed list of candidates written in the config: plain ids, or rows that
 * carry the item id plus extra columns.
 *
 * ```yaml
 * - name: Static
 *   parameters:
 *     items: [{sku_id: 17, boost: 2.5}, {sku_id: 42, boost: 1}]
 * ```
 */
import type { Column, ColumnType, ParamProblem, SourceResult, ValueSite } from '../../engine/api.js';
import { defineOperator, operatorError } from '../../engine/api.js';
import { isRef, pointer } from '../util.js';

export interface StaticParams {
  readonly items: readonly (string | number | Readonly<Record<string, unknown>>)[];
}

function isRow(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `items` as written: a list, or (`items: $ids`) a reference to an input list, which has no literal items to check at load. */
function literal(items: StaticParams['items'] | string): StaticParams['items'] {
  return Array.isArray(items) ? items : [];
}

function missingIds(items: StaticParams['items'], itemType: string): ParamProblem[] {
  const out: ParamProblem[] = [];
  items.forEach((it, i) => {
    if (!isRow(it)) return;
    const id = it[itemType];
    if (typeof id !== 'number' && typeof id !== 'string') {
      out.push({ path: pointer('items', i), message: `row ${i} has no '${itemType}' (the item type) as a number or string`, code: 'BAD_PARAMETER' });
    }
  });
  return out;
}

/** Ids written as numbers and as text never meet (6 is not "6"), so a list must use one kind. */
function mixedIds(items: StaticParams['items'], itemType: string): ParamProblem[] {
  const kinds = new Map<string, number>();
  items.forEach((it, i) => {
    const id = isRow(it) ? it[itemType] : it;
    if ((typeof id === 'number' || typeof id === 'string') && !isRef(id) && !kinds.has(typeof id)) kinds.set(typeof id, i);
  });
  if (kinds.size < 2) return [];
  return [{ path: pointer('items'), message: `items mixes numbers (first at ${kinds.get('number')}) and strings (first at ${kinds.get('string')}) as item ids; an id written as text never equals one written as a number, so write them all one way`, code: 'BAD_PARAMETER' }];
}

/** Where each item's id sits: the item itself, or its row's item-type column. */
function idSites(items: StaticParams['items'], itemType: string): ValueSite[] {
  return items.map((it, i) => ({ path: isRow(it) ? pointer('items', i, itemType) : pointer('items', i), column: itemType, as: 'id' as const }));
}

function extraColumns(items: StaticParams['items'], itemType: string): string[] {
  const names = new Set<string>();
  for (const it of items) if (isRow(it)) for (const k of Object.keys(it)) if (k !== itemType) names.add(k);
  return [...names];
}

export const staticSource = defineOperator<StaticParams>({
  kind: 'source',
  pure: true,
  name: 'Static',
  summary: 'A fixed list of item ids, or of rows holding the item id and extra columns.',
  parameters: {
    type: 'object',
    properties: {
      items: { type: 'array', items: { type: ['number', 'string', 'object'] } },
    },
    required: ['items'],
    additionalProperties: false,
  },
  check(params, env) {
    return [...missingIds(literal(params.items), env.itemType), ...mixedIds(literal(params.items), env.itemType)];
  },
  writes: (params, env) => extraColumns(literal(params.items), env.itemType),
  // As run() builds them: numbers (and booleans) become a number column, anything else text.
  writeTypes(params, env) {
    const out: Record<string, ColumnType> = {};
    for (const name of extraColumns(literal(params.items), env.itemType)) {
      const vals = literal(params.items).map((it) => (isRow(it) ? it[name] : undefined));
      if (vals.some((v) => isRef(v))) continue;
      out[name] = vals.every((v) => v === undefined || v === null || typeof v === 'number' || typeof v === 'boolean') ? 'number' : 'string';
    }
    return out;
  },
  // `items: $ids` is one site: the input is a list of ids of the item type.
  compares: (params, env) => (Array.isArray(params.items) ? idSites(params.items, env.itemType) : [{ path: pointer('items'), column: env.itemType, as: 'id' as const }]),
  run(params, ctx): SourceResult {
    const items = Array.isArray(params.items) ? params.items : [params.items];
    const bad = missingIds(items, ctx.itemType)[0];
    if (bad) throw operatorError('BAD_PARAMETER', bad.message);
    const ids = items.map((it) => (isRow(it) ? (it[ctx.itemType] as string | number) : it));
    const names = new Set<string>();
    for (const it of items) if (isRow(it)) for (const k of Object.keys(it)) if (k !== ctx.itemType) names.add(k);
    const idsOut = ids.every((v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 2 ** 31) ? Int32Array.from(ids as number[]) : ids;
    if (names.size === 0) return { ids: idsOut };
    const columns: Record<string, Column> = {};
    for (const name of names) {
      const vals = items.map((it) => (isRow(it) ? it[name] : undefined));
      columns[name] = vals.every((v) => v === undefined || v === null || typeof v === 'number' || typeof v === 'boolean')
        ? Float64Array.from(vals, (v) => (typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : NaN))
        : { kind: 'string', values: vals.map((v) => (v === undefined || v === null ? null : typeof v === 'string' ? v : JSON.stringify(v))) };
    }
    return { ids: idsOut, columns };
  },
});
