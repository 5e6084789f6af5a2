/**
 * A bound on the share of the main thread an expensive public route may take: after a run that kept
 * the main thread busy for t ms (past `freeMs`, 500 by default), the next is refused for t × (1 − share) / share ms,
 * with the wait to retry after. The cost is the event loop's active time during the run (its
 * utilization), not the run's wall time, so a run that mostly waits (a registry fetch, a model
 * load) costs what it computed. `POST /validate` compiles the whole configs directory with the sent
 * file in it (a second with 1,000 pipeline files), and `POST /execute` compiles what it is sent (a
 * 100,000-item Static list, most of a second): an anonymous client sending them back to back held
 * the main thread, `/health` included, nearly all the time.
 */
import { AirmailError } from '../errors.js';

export interface DutyClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** The main thread's active (not idle) time so far, in ms. */
  busy(): number;
}

const LOOP: DutyClock = { now: () => performance.now(), busy: () => performance.eventLoopUtilization().active };

export interface DutySettings {
  /** The most of the main thread's time these runs may take, 0..1. */
  share: number;
  /**
   * A run that cost this little leaves no wait behind it: well above what a normal compile costs
   * on a busy machine (a few ms; over 100 ms seen with the CPU shared by a dozen processes).
   */
  freeMs: number;
}

/** The bound on compiles of public routes (`POST /validate`, `POST /execute`); read at each run (tests lower it). */
export const PUBLIC_COMPILE_DUTY: DutySettings = { share: 0.25, freeMs: 500 };

export class DutyLimit {
  private freeAt = 0;

  constructor(
    private readonly what: string,
    private readonly settings: DutySettings = PUBLIC_COMPILE_DUTY,
    private readonly clock: DutyClock = LOOP,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const { share, freeMs } = this.settings;
    const t0 = this.clock.now();
    if (t0 < this.freeAt) {
      const wait = Math.ceil(this.freeAt - t0);
      throw new AirmailError('OVERLOADED', `${this.what} may take at most ${Math.round(share * 100)} % of the server's time; the last one took long enough that the next may start in ${wait} ms`, { details: { retryAfterMs: wait } });
    }
    const b0 = this.clock.busy();
    try {
      return await fn();
    } finally {
      const cost = this.clock.busy() - b0;
      if (cost > freeMs) this.freeAt = this.clock.now() + (cost * (1 - share)) / share;
    }
  }
}
