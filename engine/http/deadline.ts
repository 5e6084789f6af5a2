/**
 * The request deadline header, read the same way by every route that runs something (pipelines,
 * /execute, the fast lane, model endpoints): a bad value is a 400, never ignored.
 */
import { AirmailError } from '../errors.js';

export const DEADLINE_HEADER = 'x-airmail-deadline-ms';

/**
 * The run option a request's deadline header asks for: none without the header, else a positive
 * whole number of ms; anything else (`abc`, `-5`, `0`, two values) is a 400 rather than ignored,
 * so a client that means to shorten its deadline learns that it did not.
 */
export function deadlineOption(header: string | string[] | undefined): { deadlineMs?: number } {
  if (header === undefined) return {};
  const text = Array.isArray(header) ? header.join(', ') : header.trim();
  const ms = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(ms > 0)) throw new AirmailError('HEADER_INVALID', `${DEADLINE_HEADER} must be a positive whole number of milliseconds, got ${JSON.stringify(text.slice(0, 40))}`);
  return { deadlineMs: ms };
}
