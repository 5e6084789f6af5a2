/**
 * Request ids: every request gets one, echoed in the `x-request-id` response
 * header and written on its log lines, so a request line and its per-step
 * lines can be tied together with tracing off. An incoming `x-request-id`
 * is kept when it is sane (a load balancer or client set it); otherwise one
 * is made here.
 */
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Up to 128 characters of letters, digits and `-_.:@/+=`: no spaces, quotes or control characters. */
const SANE = /^[\w.:@/+=-]{1,128}$/;

/** The id of a request whose `x-request-id` header is `header`: that value when sane, else a new UUID. */
export function requestIdFrom(header: string | readonly string[] | undefined): string {
  const v = typeof header === 'string' ? header : header?.[0];
  return v !== undefined && SANE.test(v) ? v : randomUUID();
}
