/**
 * Bounded retries with exponential backoff and full jitter, stopped by the
 * caller's AbortSignal. An error marked `retryable: false` (a 4xx, a payload
 * that does not decode) fails at once: asking again would get the same answer.
 * An error carrying `retryAfterMs` (a 429 or 503 with Retry-After) waits at
 * least that long before the next attempt, and ends the retries at once when
 * that is longer than MAX_RETRY_AFTER_MS: calling sooner than the service
 * asked only earns another refusal, and waiting longer would hold the request.
 */
import { sleep } from '../cache/abort.js';

export interface RetryOptions {
  /** Extra attempts after the first. */
  readonly retries: number;
  /** First backoff in ms; doubled per retry, capped at 1 s, then a uniform draw in [b/2, b]. */
  readonly backoffMs: number;
  readonly signal?: AbortSignal;
  readonly random?: () => number;
}

/** The longest Retry-After honoured by waiting (the backoff's own cap); a longer one fails the fetch now. */
export const MAX_RETRY_AFTER_MS = 1000;

export class AttemptError extends Error {
  /** The service's Retry-After, in ms, when it sent one. */
  readonly retryAfterMs: number | undefined;
  /** The HTTP status the service answered with, when it answered. */
  readonly status: number | undefined;
  constructor(message: string, readonly retryable: boolean, opts?: { cause?: unknown; retryAfterMs?: number; status?: number }) {
    super(message, opts);
    this.name = 'AttemptError';
    this.retryAfterMs = opts?.retryAfterMs;
    this.status = opts?.status;
  }
}

/** A Retry-After header (delta-seconds or an HTTP date) in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+(?:\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface RetryOutcome<T> {
  readonly value: T;
  readonly attempts: number;
}

/** Runs `attempt` up to 1 + retries times. Throws the last error, with the attempt count in its message. */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<RetryOutcome<T>> {
  const random = opts.random ?? Math.random;
  const max = 1 + Math.max(0, Math.floor(opts.retries));
  let last: unknown;
  for (let n = 1; n <= max; n++) {
    try {
      return { value: await attempt(n), attempts: n };
    } catch (err) {
      last = err;
      if (opts.signal?.aborted) throw err;
      if (err instanceof AttemptError && !err.retryable) break;
      if (n === max) break;
      const asked = err instanceof AttemptError ? err.retryAfterMs : undefined;
      if (asked !== undefined && asked > MAX_RETRY_AFTER_MS) break;
      const cap = Math.min(opts.backoffMs * 2 ** (n - 1), 1000);
      await sleep(Math.max(cap / 2 + (cap / 2) * random(), asked ?? 0), opts.signal);
    }
  }
  throw last;
}
