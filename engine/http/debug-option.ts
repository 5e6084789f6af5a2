/**
 * The debug option of a run request: `?debug` (its values) or `x-airmail-debug`. A value that is
 * neither on nor off is refused (400), not ignored, so a client learns its debug was not taken.
 */
import type { Context } from 'hono';
import { AirmailError, clip } from '../errors.js';

const DEBUG_ON = new Set(['true', '1', 'yes', 'on']);
const DEBUG_OFF = new Set(['false', '0', 'no', 'off']);
const DEBUG_SPELLINGS = 'true, 1, yes or on (or a bare ?debug) to ask for it; false, 0, no or off not to; in any case';

/** One `?debug` value or `x-airmail-debug` header: on, off, or undefined when it is neither. */
function debugValue(v: string): boolean | undefined {
  const t = v.trim().toLowerCase();
  return t === '' || DEBUG_ON.has(t) ? true : DEBUG_OFF.has(t) ? false : undefined;
}

/** Whether one value asks for debug, without refusing a bad one (for the error path's counting). */
export const debugAsked = (v: string | undefined): boolean => v !== undefined && debugValue(v) === true;

/**
 * Whether a request asks for debug output, by `?debug` (its values) or `x-airmail-debug`: `true`,
 * `1`, `yes`, `on` in any case, or a bare `?debug`; `false`, `0`, `no`, `off` do not. Anything
 * else (`?debug=maybe`, given twice) is a 400 rather than ignored, so a client learns that its
 * debug was not taken.
 */
export function debugOption(query: readonly string[] | undefined, header: string | undefined): boolean {
  let on = false;
  if (query !== undefined) {
    const v = query.length === 1 ? debugValue(query[0]!) : undefined;
    if (v === undefined) {
      const got = query.length === 1 ? JSON.stringify(clip(query[0]!, 40)) : `${query.length} values`;
      throw new AirmailError('QUERY_INVALID', `?debug must be one of ${DEBUG_SPELLINGS}; got ${got}`);
    }
    on = v;
  }
  if (header !== undefined) {
    const v = debugValue(header);
    if (v === undefined) throw new AirmailError('HEADER_INVALID', `x-airmail-debug must be one of ${DEBUG_SPELLINGS.replace(' (or a bare ?debug)', '')}; got ${JSON.stringify(clip(header, 40))}`);
    on ||= v;
  }
  return on;
}

/** The debug option of a request (see debugOption). */
export const debugOf = (c: Context): boolean => debugOption(c.req.queries('debug'), c.req.header('x-airmail-debug'));
