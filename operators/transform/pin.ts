/**
 * Moves some rows to the front and keeps the others after them in their current order: campaign
 * SKUs pinned above a ranking, or personalised candidates first with a ranking as the fill (and
 * the whole answer when there are none). Pinned are the rows whose item id is in `ids` (in that
 * order), or the rows with a value in `column` (in that column's order, ascending unless `desc`,
 * ties by item id). `Sort` first, then `Pin`, then `Limit`: a Sort after it would undo it.
 *
 * ```yaml
 * - name: Pin
 *   parameters: {column: campaign_rank}    # or {ids: [1007, 1150]}, or {ids: $pinned}
 * ```
 */
import { defineOperator, valueAt } from '../../engine/api.js';
import { asScalars, orderBy } from '../util.js';

export interface PinParams {
  readonly ids?: readonly (string | number)[] | string | number;
  readonly column?: string;
  readonly desc?: boolean;
}

// An id is one item however it is spelled: `"2"` and `2` are the same item (as everywhere else).
const key = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export const pin = defineOperator<PinParams>({
  kind: 'transform',
  name: 'Pin',
  pure: true,
  summary: 'Moves the rows whose id is in `ids` (in that order), or that have a value in `column` (in its order), to the front; the rest keep their order.',
  parameters: {
    type: 'object',
    properties: {
      ids: { type: 'array', items: { type: ['number', 'string'] } },
      column: { type: 'string', minLength: 1 },
      desc: { type: 'boolean', description: 'with column: its order is descending (default false)' },
    },
    oneOf: [{ required: ['ids'] }, { required: ['column'] }],
    dependencies: { desc: ['column'] },
    additionalProperties: false,
  },
  reads: (params) => (params.column === undefined ? [] : [params.column]),
  compares: (params, env) => (params.ids === undefined ? [] : [{ path: '/ids', column: env.itemType, as: 'id' as const }]),
  run(params, input, ctx) {
    const rows = input.rows;
    const ids = input.frame.column(ctx.itemType);
    const pinned: number[] = [];
    const rest: number[] = [];
    if (params.column !== undefined) {
      const col = input.frame.column(params.column);
      for (const r of rows) (valueAt(col, r) === null ? rest : pinned).push(r);
      const sel = Int32Array.from(pinned);
      const pos = orderBy(sel, col, params.desc === true, ids);
      return { rows: Int32Array.from([...Array.from(pos, (p) => sel[p]!), ...rest]) };
    }
    const rank = new Map<string, number>();
    for (const v of asScalars(params.ids)) {
      const k = key(v);
      if (k !== null && !rank.has(k)) rank.set(k, rank.size);
    }
    const at: (number | undefined)[] = [];
    for (const r of rows) {
      const k = key(valueAt(ids, r));
      const p = k === null ? undefined : rank.get(k);
      if (p === undefined || at[p] !== undefined) rest.push(r);
      else at[p] = r;
    }
    for (const r of at) if (r !== undefined) pinned.push(r);
    return { rows: Int32Array.from([...pinned, ...rest]) };
  },
});
