/**
 * A circuit breaker for a dependency that can stop answering without refusing
 * (a paused Redis: the socket stays open, every command waits its whole
 * timeout). After `failureThreshold` consecutive failures it opens: callers
 * are told to skip the dependency (cost ~0) for `openMs`; then one caller is
 * let through as the probe. A success closes it; a failed probe reopens it
 * with the period doubled, up to `maxOpenMs` (so a dependency that comes back
 * is used again within `maxOpenMs` plus one call).
 *
 * Used by the Redis cache store (cache/redis-store.ts) and by Redis sources
 * (remote/redis-fetcher.ts), one breaker per client.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker; default 3. */
  readonly failureThreshold?: number;
  /** First open period; default 250 ms. */
  readonly openMs?: number;
  /** Longest open period; default 2000 ms. */
  readonly maxOpenMs?: number;
}

/** `call`: go ahead; `probe`: go ahead as the one probe (report its outcome with `probe: true`); `skip`: do not call. */
export type Admission = 'call' | 'probe' | 'skip';

export class Breaker {
  readonly #threshold: number;
  readonly #baseOpenMs: number;
  readonly #maxOpenMs: number;
  readonly #now: () => number;
  #failures = 0;
  #openUntil = 0;
  #openMs: number;
  #probing = false;
  /** Times it opened (a failed probe reopening it does not count). */
  opened = 0;

  constructor(opts: BreakerOptions = {}, now: () => number = Date.now) {
    this.#threshold = opts.failureThreshold ?? 3;
    this.#baseOpenMs = opts.openMs ?? 250;
    this.#maxOpenMs = Math.max(this.#baseOpenMs, opts.maxOpenMs ?? 2000);
    this.#openMs = this.#baseOpenMs;
    this.#now = now;
  }

  get state(): BreakerState {
    if (this.#failures < this.#threshold) return 'closed';
    return this.#now() < this.#openUntil ? 'open' : 'half-open';
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }

  /** Milliseconds until the next probe may go (0 when closed or half-open). */
  get retryInMs(): number {
    return this.#failures < this.#threshold ? 0 : Math.max(0, this.#openUntil - this.#now());
  }

  admit(): Admission {
    if (this.#failures < this.#threshold) return 'call';
    if (this.#now() < this.#openUntil || this.#probing) return 'skip';
    this.#probing = true;
    return 'probe';
  }

  /** The call answered (whatever it said: the dependency is alive). */
  succeeded(probe: boolean): void {
    if (probe) this.#probing = false;
    this.#failures = 0;
    this.#openMs = this.#baseOpenMs;
  }

  /** The call timed out or could not reach the dependency. */
  failed(probe: boolean): void {
    this.#failures++;
    if (probe) {
      this.#probing = false;
      // Still down: back off further before the next probe.
      this.#openMs = Math.min(this.#openMs * 2, this.#maxOpenMs);
      this.#openUntil = this.#now() + this.#openMs;
    } else if (this.#failures === this.#threshold) {
      this.opened++;
      this.#openUntil = this.#now() + this.#openMs;
    }
    // Other failures are calls made before the breaker opened: no extension.
  }

  /** The call ended without saying anything about the dependency (the caller gave up first). */
  released(probe: boolean): void {
    if (probe) this.#probing = false;
  }
}

/** One dependency's breaker counts, as /metrics prints them (`origin`: scheme://host:port, never credentials). */
export interface BreakerCount {
  readonly origin: string;
  readonly opened: number;
  readonly skipped: number;
}

/** The `origin` label that counts for dependencies past BreakerTally's bound. */
export const OTHER_ORIGIN = '_other';

/**
 * Openings and skips per dependency, for the `origin` label of airmail_source_breaker_*_total, so an
 * on-call engineer sees which upstream is down. Kept for good (counters never go back), for at most
 * `max` dependencies (an HttpSource URL may put a request value in its host): later ones are counted
 * under OTHER_ORIGIN. Only a dependency whose breaker opened gets a row.
 */
export class BreakerTally {
  readonly #by = new Map<string, { opened: number; skipped: number }>();
  constructor(private readonly max: number) {}

  #row(origin: string): { opened: number; skipped: number } {
    let r = this.#by.get(origin);
    if (r) return r;
    if (this.#by.size >= this.max) origin = OTHER_ORIGIN;
    r = this.#by.get(origin);
    if (!r) this.#by.set(origin, (r = { opened: 0, skipped: 0 }));
    return r;
  }

  opened(origin: string): void {
    this.#row(origin).opened++;
  }

  skipped(origin: string): void {
    this.#row(origin).skipped++;
  }

  rows(): BreakerCount[] {
    return [...this.#by].map(([origin, r]) => ({ origin, opened: r.opened, skipped: r.skipped }));
  }
}
