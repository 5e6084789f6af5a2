/**
 * Takes `n` rows spread over the values of `by`: each group's best row (by
 * `maximize`) first, then each group's second best, and so on. Inside a group
 * rows rank by `maximize` descending (ties: smaller item id) as r = 0, 1, …;
 * all rows are ordered by (r, maximize descending, item id) and the first `n`
 * kept. Missing `maximize` values rank last.
 *
 * ```yaml
 * - name: DiverseSample
 *   parameters: {n: 10, maximize: psale_score, by: product_id}
 * ```
 */
import type { Column } from '../../engine/api.js';
import { defineOperator, isNumeric } from '../../engine/api.js';
import { countParam, firstByValues, idComparator, orderBy, rowKey } from '../util.js';

export interface DiverseSampleParams {
  readonly n: number;
  readonly maximize: string;
  readonly by: string;
}

export const diverseSample = defineOperator<DiverseSampleParams>({
  kind: 'transform',
  name: 'DiverseSample',
  pure: true,
  summary: 'Takes the top n rows round-robin over the groups of a column, best first in each round.',
  parameters: {
    type: 'object',
    properties: {
      n: { type: 'integer', minimum: 0 },
      maximize: { type: 'string', minLength: 1 },
      by: { type: 'string', minLength: 1 },
    },
    required: ['n', 'maximize', 'by'],
    additionalProperties: false,
  },
  reads: (params) => [params.maximize, params.by],
  run(params, input, ctx) {
    const n = countParam(params.n, 'n');
    const frame = input.frame;
    const rows = input.rows;
    const byCol = frame.column(params.by);
    const group = rowKey([byCol]);
    const quick = firstRoundOnly(rows, n, byCol, group, frame.column(params.maximize), frame.column(ctx.itemType));
    if (quick) return { rows: quick };
    // One global order by (maximize desc, id asc) gives every group's internal ranking too.
    const pos = orderBy(rows, frame.column(params.maximize), true, frame.column(ctx.itemType));
    const rank = new Int32Array(pos.length);
    const seen = new Map<unknown, number>();
    let maxRank = 0;
    for (let i = 0; i < pos.length; i++) {
      const g = group(rows[pos[i]!]!);
      const r = seen.get(g) ?? 0;
      seen.set(g, r + 1);
      rank[i] = r;
      if (r > maxRank) maxRank = r;
    }
    // Stable bucket by rank keeps (maximize desc, id asc) inside each round.
    const take = Math.min(n, pos.length);
    const start = new Int32Array(maxRank + 2);
    for (let i = 0; i < rank.length; i++) start[rank[i]! + 1]!++;
    for (let r = 1; r < start.length; r++) start[r]! += start[r - 1]!;
    const ordered = new Int32Array(pos.length);
    for (let i = 0; i < pos.length; i++) ordered[start[rank[i]!]!++] = rows[pos[i]!]!;
    return { rows: ordered.slice(0, take) };
  },
});

/**
 * When there are at least `n` groups, the answer is the first round only:
 * each group's best row, the best `n` of those. One pass finds the bests and
 * only they are sorted (the full order is needed only with fewer groups).
 */
function firstRoundOnly(rows: Int32Array, n: number, by: Column, group: (row: number) => unknown, maximize: Column, ids: Column): Int32Array | undefined {
  if (!isNumeric(maximize) || n === 0) return undefined;
  const byId = idComparator(ids);
  const before = (a: number, b: number): boolean => {
    const x = maximize[a]!;
    const y = maximize[b]!;
    const xn = Number.isNaN(x);
    const yn = Number.isNaN(y);
    if (xn !== yn) return yn;
    if (!xn && x !== y) return x > y;
    return byId(a, b) < 0;
  };
  // Text groups are dictionary codes (as rowKey reads them): the same typed table, no Map.
  const codes = by instanceof Int32Array ? by : !isNumeric(by) && by.kind === 'dict' ? by.codes : undefined;
  const tops = (codes ? bestPerIntGroup(rows, codes, before) : undefined) ?? bestPerGroup(rows, group, before);
  if (tops.length < n) return undefined;
  const values = new Float64Array(tops.length);
  for (let k = 0; k < tops.length; k++) values[k] = maximize[tops[k]!]!;
  return Int32Array.from(firstByValues(tops, values, true, ids, n), (p) => tops[p]!);
}

function bestPerGroup(rows: Int32Array, group: (row: number) => unknown, before: (a: number, b: number) => boolean): Int32Array {
  const best = new Map<unknown, number>();
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    const g = group(r);
    const b = best.get(g);
    if (b === undefined || before(r, b)) best.set(g, r);
  }
  return Int32Array.from(best.values());
}

/**
 * The same for small non-negative integer groups (ids such as product_id), in a typed table
 * instead of a Map; undefined when the values are out of that range (the Map then does it).
 */
function bestPerIntGroup(rows: Int32Array, group: Int32Array, before: (a: number, b: number) => boolean): Int32Array | undefined {
  let max = 0;
  for (let k = 0; k < rows.length; k++) {
    const g = group[rows[k]!]!;
    if (g < 0) return undefined;
    if (g > max) max = g;
  }
  if (max > 16 * rows.length + 1024) return undefined;
  // best[g] = 1 + the group's best row so far (0: none yet), so a fresh zeroed table is empty.
  const best = new Int32Array(max + 1);
  const order = new Int32Array(rows.length);
  let groups = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    const g = group[r]!;
    const b = best[g]! - 1;
    if (b < 0) {
      order[groups++] = g;
      best[g] = r + 1;
    } else if (before(r, b)) best[g] = r + 1;
  }
  const tops = new Int32Array(groups);
  for (let i = 0; i < groups; i++) tops[i] = best[order[i]!]! - 1;
  return tops;
}
