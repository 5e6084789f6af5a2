/**
 * Instants (a `timestamp` column, a time bound of `Range` or of a `where` window): epoch milliseconds
 * as float64, read from ISO 8601 text, written back as ISO text. A relative bound (`now-30d`) is
 * parsed once at load and resolved per request against that request's `now`, floored to the whole
 * second (or to the unit after `/`), so requests in the same second share memoised answers.
 */

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
export type TimeUnit = keyof typeof UNIT_MS;

/** `2024-10-01`, `2024-10-01T12:30`, `…:00`, `…:00.123`, then `Z`, `+02:00` or `+0200` (a time needs one). */
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const RELATIVE = /^now(?:([+-])(\d{1,9})([smhdw]))?(?:\/([smhdw]))?$/;

/** A time bound as written: an instant, or `now` moved by an offset and rounded down to a unit. */
export type TimeBound =
  | { readonly kind: 'instant'; readonly ms: number; readonly text: string }
  | { readonly kind: 'relative'; readonly offsetMs: number; readonly round: TimeUnit | undefined; readonly text: string };

/** What a time value is: an ISO 8601 instant, `now`, `now-30d`, `now+2h/h`. */
export const TIME_GRAMMAR = "an ISO 8601 date or date-time ('2024-10-01', '2024-10-01T12:30:00Z', '…+02:00') or a time relative to now ('now', 'now-30d', 'now+12h', 'now-1w/d'; units s, m, h, d, w; '/unit' rounds down to the start of that unit, UTC)";

/** Epoch ms of an ISO 8601 instant, or why the text is not one (a phrase that follows the text: `"x" is not …`). */
export function parseInstant(text: string): number | string {
  const m = INSTANT.exec(text.trim());
  if (!m) return 'is not an ISO 8601 date or date-time (write 2024-10-01 or 2024-10-01T12:30:00Z)';
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  if (h !== undefined && zone === undefined) return 'has a time but no offset: add Z (UTC) or one such as +02:00';
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  const back = new Date(Date.UTC(2000, Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), ms));
  back.setUTCFullYear(Number(y), Number(mo) - 1, Number(d)); // Date.UTC reads years 0-99 as 1900-1999
  const local = back.getTime();
  if (back.getUTCFullYear() !== Number(y) || back.getUTCMonth() !== Number(mo) - 1 || back.getUTCDate() !== Number(d) || Number(h ?? 0) > 23 || Number(mi ?? 0) > 59 || Number(s ?? 0) > 59) {
    return 'is not a date of the calendar';
  }
  if (zone === undefined || zone.toUpperCase() === 'Z') return local;
  const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
  if (Number(z[2]) > 23 || Number(z[3]) > 59) return `has the offset ${zone}, which is not one (hours 00 to 23, minutes 00 to 59)`;
  const offset = (Number(z[2]) * 60 + Number(z[3])) * 60_000;
  return z[1] === '+' ? local - offset : local + offset;
}

/** A time bound as written in a config or sent as an input, or undefined when the text is neither form. */
export function parseTimeBound(text: string): TimeBound | undefined {
  const t = text.trim();
  const r = RELATIVE.exec(t);
  if (r) {
    const offset = r[1] === undefined ? 0 : (r[1] === '-' ? -1 : 1) * Number(r[2]) * UNIT_MS[r[3] as TimeUnit];
    return { kind: 'relative', offsetMs: offset, round: r[4] as TimeUnit | undefined, text: t };
  }
  const ms = parseInstant(t);
  return typeof ms === 'number' ? { kind: 'instant', ms, text: t } : undefined;
}

/** Whether a text reads as a time bound (used at load to tell a time bound from a number). */
export function looksLikeTime(v: unknown): v is string {
  return typeof v === 'string' && (RELATIVE.test(v.trim()) || INSTANT.test(v.trim()));
}

/** The start of the `unit` that holds `ms` (UTC; a week starts on Monday). */
function floorTo(ms: number, unit: TimeUnit): number {
  if (unit !== 'w') return Math.floor(ms / UNIT_MS[unit]) * UNIT_MS[unit];
  // 1970-01-01 was a Thursday: Mondays are 4 days after a multiple of 7 days.
  const monday = 4 * UNIT_MS.d;
  return Math.floor((ms - monday) / UNIT_MS.w) * UNIT_MS.w + monday;
}

/** The request's now as bounds see it: whole seconds. */
export function requestNow(ms: number): number {
  return floorTo(ms, 's');
}

/** Epoch ms of a bound in a request whose now is `now`. */
export function resolveBound(b: TimeBound, now: number): number {
  if (b.kind === 'instant') return b.ms;
  const at = requestNow(now) + b.offsetMs;
  return b.round ? floorTo(at, b.round) : at;
}

/**
 * Whether `a` resolves after `b` at every now: two instants, or two times relative to now (`now-7d`
 * is after `now-30d`; `now/d`, at least the day's midnight, is after `now-1d`). An instant against a
 * relative time depends on the now, and so does a pair that rounding may order either way.
 */
export function alwaysAfter(a: TimeBound, b: TimeBound): boolean {
  if (a.kind === 'instant' && b.kind === 'instant') return a.ms > b.ms;
  if (a.kind !== 'relative' || b.kind !== 'relative') return false;
  // Rounded down, `a` lies in (now + offset − unit, now + offset]; `b` is at most now + its offset.
  return a.round === undefined ? a.offsetMs > b.offsetMs : a.offsetMs - UNIT_MS[a.round] >= b.offsetMs;
}

/** ISO 8601 text of an instant (UTC, milliseconds only when there are some); null for NaN. */
export function formatInstant(ms: number): string | null {
  if (!Number.isFinite(ms)) return null;
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/**
 * A cell of a column declared `timestamp` (CSV or JSON): ISO text, or a JSON number as epoch
 * milliseconds; empty text and null are null (NaN). Anything else throws, naming the 1-based row.
 */
export function instantCell(v: unknown, column: string, row: number): number {
  if (v === null || v === undefined) return NaN;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    if (v.trim() === '') return NaN;
    const ms = parseInstant(v);
    if (typeof ms === 'number') return ms;
    throw new Error(`column '${column}' is declared timestamp, but row ${row} holds ${JSON.stringify(v.slice(0, 40))}, which ${ms}`);
  }
  throw new Error(`column '${column}' is declared timestamp, but row ${row} holds ${JSON.stringify(v)?.slice(0, 40)}`);
}

/**
 * The cells of a JSON column declared `timestamp` (row 1 first). A JSON number is epoch milliseconds;
 * a column whose numbers all lie below 1e11 (before March 1973 as ms) with one above 1e8 (a time after
 * March 1973 as seconds) was written in epoch seconds and would read as January 1970: refused.
 */
export function instantColumn(cells: readonly unknown[], column: string): number[] {
  const out = cells.map((v, i) => instantCell(v, column, i + 1));
  let big = -1;
  for (let i = 0; i < cells.length; i++) {
    const v = cells[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    if (Math.abs(v) >= 1e11) return out;
    if (big < 0 && Math.abs(v) > 1e8) big = i;
  }
  if (big < 0) return out;
  const v = cells[big] as number;
  throw new Error(`column '${column}' is declared timestamp, and a JSON number there is epoch milliseconds, but these look like epoch seconds: multiply by 1000 or write ISO text (row ${big + 1} holds ${v}: ${formatInstant(v)} as ms, ${formatInstant(v * 1000)} as seconds)`);
}

/** The request schema's pattern of an instant input (the calendar is checked when it is used). */
export const INSTANT_PATTERN = '^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?([Zz]|[+-]\\d{2}:?\\d{2}))?$';

/** The parameter schema's pattern of a time bound written in a config: an instant or `now…`. */
export const TIME_BOUND_PATTERN = `^(now([+-]\\d{1,9}[smhdw])?(/[smhdw])?|${INSTANT_PATTERN.slice(1, -1)})$`;
