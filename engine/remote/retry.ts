/**
 * Bounded retries with exponential backoff and full jitter, stopped by the
 * caller's AbortSignal. An error marked `retryable: false` (a 4xx, a payload
 * that does not decode) fails at once: asking again would get the same answer.
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

export class AttemptError extends Error {
  constructor(message: string, readonly retryable: boolean, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'AttemptError';
  }
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
      const cap = Math.min(opts.backoffMs * 2 ** (n - 1), 1000);
      await sleep(cap / 2 + (cap / 2) * random(), opts.signal);
    }
  }
  throw last;
}
