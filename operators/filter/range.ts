/**
 * Keeps rows whose numeric or timestamp column lies between `min` and `max` (inclusive
 * unless told otherwise). Null / NaN values never pass. A bound whose
 * reference resolves to null at request time is treated as absent. On a timestamp column the
 * bounds are times (`2024-10-01`, `now-30d`): the engine hands them over as epoch ms, resolved
 * against the request's now; an input there arrives as ISO text.
 *
 * ```yaml
 * - name: Range
 *   parameters: {column: price, min: 10, max: $input.max_price, max_inclusive: false}
 * - name: Range
 *   parameters: {column: launched_on, min: now-14d}
 * ```
 */
import { defineOperator, operatorError, parseInstant, TIME_BOUND_PATTERN } from '../../engine/api.js';
import { numberReader, toNumber } from '../util.js';

export interface RangeParams {
  readonly column: string;
  readonly min?: number | string | null;
  readonly max?: number | string | null;
  readonly min_inclusive: boolean;
  readonly max_inclusive: boolean;
}

function bound(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = toNumber(v);
  if (!Number.isNaN(n)) return n;
  // An instant input compared with a timestamp column (its schema took the pattern; the calendar is checked here).
  const ms = typeof v === 'string' ? parseInstant(v) : undefined;
  if (typeof ms === 'number') return ms;
  throw operatorError('INPUT_INVALID', `'${name}' must be a number or an ISO 8601 instant, got ${JSON.stringify(v)}${typeof ms === 'string' ? `, which ${ms}` : ''}`);
}

export const range = defineOperator<RangeParams>({
  kind: 'filter',
  pure: true,
  name: 'Range',
  summary: 'Keeps rows whose numeric column lies between min and max.',
  parameters: {
    type: 'object',
    properties: {
      column: { type: 'string', minLength: 1 },
      // Text only as a time bound (`2024-10-01`, `now-30d`), for a timestamp column (checked at load).
      min: { type: ['number', 'string'], pattern: TIME_BOUND_PATTERN },
      max: { type: ['number', 'string'], pattern: TIME_BOUND_PATTERN },
      min_inclusive: { type: 'boolean', default: true },
      max_inclusive: { type: 'boolean', default: true },
    },
    required: ['column'],
    anyOf: [{ required: ['min'] }, { required: ['max'] }],
    additionalProperties: false,
  },
  reads: (params) => [params.column],
  compares: (params) => (['min', 'max'] as const).filter((b) => params[b] !== undefined).map((b) => ({ path: `/${b}`, column: params.column, as: 'range' as const })),
  check(params) {
    const lo = typeof params.min === 'string' ? parseInstant(params.min) : params.min;
    const hi = typeof params.max === 'string' ? parseInstant(params.max) : params.max;
    if (typeof lo === 'number' && typeof hi === 'number' && lo > hi) {
      return [{ path: '/min', message: `min (${params.min}) is greater than max (${params.max}): no row can pass`, code: 'BAD_PARAMETER' }];
    }
    return [];
  },
  run(params, input) {
    const lo = bound(params.min, 'min') ?? -Infinity;
    const hi = bound(params.max, 'max') ?? Infinity;
    const loIn = params.min_inclusive !== false;
    const hiIn = params.max_inclusive !== false;
    const read = numberReader(input.frame.column(params.column));
    const rows = input.rows;
    const out = new Int32Array(rows.length);
    let n = 0;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const v = read(r);
      // NaN fails every comparison, so null rows drop out here.
      if ((loIn ? v >= lo : v > lo) && (hiIn ? v <= hi : v < hi)) out[n++] = r;
    }
    return out.slice(0, n);
  },
});
