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
import type { Column, ParamProblem, SourceResult } from '../../engine/api.js';
import { defineOperator, operatorError } from '../../engine/api.js';
import { pointer } from '../util.js';

export interface StaticParams {
  readonly items: readonly (string | number | Readonly<Record<string, unknown>>)[];
}

function isRow(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
    return missingIds(params.items, env.itemType);
  },
  writes(params, env) {
    const names = new Set<string>();
    for (const it of params.items) if (isRow(it)) for (const k of Object.keys(it)) if (k !== env.itemType) names.add(k);
    return [...names];
  },
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
