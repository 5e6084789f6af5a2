/**
 * The request deadline header, read the same way by every route that runs something (pipelines,
 * /execute, the fast lane, model endpoints): a bad value is a 400, never ignored.
 */
import { AirmailError } from '../errors.js';
import { parseInstant } from '../time.js';

export const DEADLINE_HEADER = 'x-airmail-deadline-ms';
/** The most a deadline header counts for (about 24.8 days: the longest timer Node sets). */
export const MAX_DEADLINE_HEADER_MS = 2 ** 31 - 1;

/**
 * The run option a request's deadline header asks for: none without the header, else a positive
 * whole number of ms; anything else (`abc`, `-5`, `0`, two values) is a 400 rather than ignored,
 * so a client that means to shorten its deadline learns that it did not.
 */
export function deadlineOption(header: string | string[] | undefined): { deadlineMs?: number } {
  if (header === undefined) return {};
  const text = Array.isArray(header) ? header.join(', ') : header.trim();
  // Any length: it can only shorten a deadline, so 99999999999 asks for the longest one there is.
  const ms = /^[0-9]+$/.test(text) ? Math.min(Number(text), MAX_DEADLINE_HEADER_MS) : NaN;
  if (!(ms > 0)) throw new AirmailError('HEADER_INVALID', `${DEADLINE_HEADER} must be a positive whole number of milliseconds, got ${JSON.stringify(text.slice(0, 40))}`);
  return { deadlineMs: ms };
}

export const NOW_HEADER = 'x-airmail-now';

/**
 * A request's pinned now (x-airmail-now: an ISO 8601 instant), to replay a past request: time bounds
 * (`now-30d`) resolve against it instead of the clock. Anything else is a 400, never ignored.
 */
export function nowOption(header: string | string[] | undefined): { now?: number } {
  if (header === undefined) return {};
  const text = Array.isArray(header) ? header.join(', ') : header.trim();
  const ms = parseInstant(text);
  if (typeof ms !== 'number') throw new AirmailError('HEADER_INVALID', `${NOW_HEADER} must be an ISO 8601 instant (2024-10-01T12:00:00Z), got ${JSON.stringify(text.slice(0, 40))}, which ${ms}`);
  return { now: ms };
}
