/**
 * A bound on the share of the main thread an expensive public route may take: after a run that
 * took t ms (past `freeMs`), the next is refused for t × (1 − share) / share ms, with the wait to
 * retry after. `POST /validate` compiles the whole configs directory with the sent file in it (a
 * second with 1,000 pipeline files), so an anonymous client sending them back to back held the
 * main thread, `/health` included, nearly all the time.
 */
import { AirmailError } from '../errors.js';

export class DutyLimit {
  private freeAt = 0;

  constructor(
    private readonly what: string,
    /** The most of the main thread's time these runs may take, 0..1. */
    private readonly share: number,
    /** A run this short leaves no wait behind it. */
    private readonly freeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const t0 = this.now();
    if (t0 < this.freeAt) {
      const wait = Math.ceil(this.freeAt - t0);
      throw new AirmailError('OVERLOADED', `${this.what} may take at most ${Math.round(this.share * 100)} % of the server's time; the last one took long enough that the next may start in ${wait} ms`, { details: { retryAfterMs: wait } });
    }
    try {
      return await fn();
    } finally {
      const took = this.now() - t0;
      if (took > this.freeMs) this.freeAt = this.now() + (took * (1 - this.share)) / this.share;
    }
  }
}
