/**
 * Removes rows whose item id is in a list (`ids`) or among the ids of the
 * dataset rows matching `where` (same matching as Lookup).
 *
 * ```yaml
 * - name: Exclude
 *   parameters: {dataset: purchases, where: {client_id: $client_id}}
 * ```
 */
import type { Scalar } from '../../engine/api.js';
import { defineOperator, equalsMask, valueAt } from '../../engine/api.js';
import { asScalars, checkDatasetColumns, pointer, WHERE_SCHEMA, whereRows, whereSites, type WhereValue } from '../util.js';

export interface ExcludeParams {
  readonly ids?: readonly (string | number)[] | string | number;
  readonly dataset?: string;
  /** Dataset column holding the item ids; defaults to the item type. */
  readonly column?: string;
  readonly where?: Readonly<Record<string, WhereValue>>;
}

export const exclude = defineOperator<ExcludeParams>({
  kind: 'filter',
  pure: true,
  name: 'Exclude',
  fixed: { dataset: 'a dataset' },
  summary: 'Removes rows whose item id is listed, or found in a dataset lookup.',
  parameters: {
    type: 'object',
    properties: {
      ids: { type: 'array', items: { type: ['number', 'string'] } },
      dataset: { type: 'string', minLength: 1 },
      column: { type: 'string', minLength: 1 },
      where: WHERE_SCHEMA,
    },
    anyOf: [{ required: ['ids'] }, { required: ['dataset'] }],
    dependencies: { column: ['dataset'], where: ['dataset'] },
    additionalProperties: false,
  },
  check(params, env) {
    if (params.dataset === undefined) return [];
    return checkDatasetColumns(env, params.dataset, [
      { path: params.column === undefined ? '' : '/column', name: params.column ?? env.itemType, id: true },
      ...Object.keys(params.where ?? {}).map((c) => ({ path: pointer('where', c), name: c })),
    ]);
  },
  compares: (params, env) => [...(params.ids === undefined ? [] : [{ path: '/ids', column: env.itemType, as: 'id' as const }]), ...whereSites(params.dataset, params.where)],
  run(params, input, ctx) {
    const wanted: Scalar[] = params.ids === undefined ? [] : asScalars(params.ids);
    if (params.dataset !== undefined) {
      const ds = ctx.dataset(params.dataset);
      const idCol = ds.column(params.column ?? ctx.itemType);
      for (const r of whereRows(ds, params.where)) wanted.push(valueAt(idCol, r));
    }
    const rows = input.rows;
    if (wanted.length === 0) return rows.slice();
    const hit = equalsMask(input.frame.column(ctx.itemType), wanted);
    const out = new Int32Array(rows.length);
    let n = 0;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      if (!hit(r)) out[n++] = r;
    }
    return out.slice(0, n);
  },
});
