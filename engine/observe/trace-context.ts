/**
 * The W3C `traceparent` a remote fetch sends its upstream: built in the worker (observe/collect.ts),
 * read back on the main thread (remote/broker.ts, the fetchers) to tell a sampled request's call,
 * which gets a CLIENT span and may be linked to, from an unsampled one's, which only passes the
 * context on (W3C Trace Context: the sampled flag off, so the upstream keeps the trace id and, with
 * a parent-based sampler, does not sample either).
 */

/** `00-{traceId}-{parentId}-{01|00}`. */
export function traceparentOf(traceId: string, parentId: string, sampled: boolean): string {
  return `00-${traceId}-${parentId}-${sampled ? '01' : '00'}`;
}

/** Whether a traceparent's flags have the sampled bit set (its last two hex digits). */
export function traceSampled(traceparent: string): boolean {
  return (Number.parseInt(traceparent.slice(53, 55), 16) & 1) === 1;
}
