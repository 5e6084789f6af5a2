/**
 * One flight per key: concurrent misses of a key share one load (one upstream call), each waiter
 * may leave on its own signal, and the load is aborted only when the last waiter has left and no
 * one pinned it (a waiter without a signal, a background refresh). The cache (cache.ts) decides
 * what a flight does; this is only how flights are shared, so it lives apart from the tiers.
 */
import { AirmailError } from '../errors.js';
import { raceAbort } from './abort.js';

export interface Flight<R> {
  readonly promise: Promise<R>;
  readonly controller: AbortController;
  waiters: number;
  /** A waiter without a signal (or a background refresh): never abort for lack of waiters. */
  pinned: boolean;
}

/** The flights in progress, by key; a flight leaves the table as it settles. */
export class Flights<R> {
  readonly #flights = new Map<string, Flight<R>>();

  get(key: string): Flight<R> | undefined {
    return this.#flights.get(key);
  }

  has(key: string): boolean {
    return this.#flights.has(key);
  }

  /** Aborts every flight (each with its own Error of `message`) and forgets them. */
  abortAll(message: string): void {
    for (const f of this.#flights.values()) f.controller.abort(new Error(message));
    this.#flights.clear();
  }

  /** `timeout`: a background refresh's bound, and the value's label for the error when it passes. */
  start(key: string, run: (signal: AbortSignal) => Promise<R>, pinned = false, timeout?: { ms: number; label: string }): Flight<R> {
    const controller = new AbortController();
    const signal = controller.signal;
    // No request is waiting on a refresh: its bound passing is the source not answering, not a request's deadline.
    const timer = timeout && setTimeout(() => controller.abort(new AirmailError('SOURCE_FAILED', `${timeout.label}: no answer within ${timeout.ms} ms (background refresh)`)), timeout.ms);
    timer?.unref();
    const holder: { flight?: Flight<R> } = {};
    const promise = (async () => {
      try {
        return await run(signal);
      } finally {
        clearTimeout(timer);
        // Before any waiter resumes, so a waiter that starts a refresh starts a new flight.
        if (holder.flight !== undefined && this.#flights.get(key) === holder.flight) this.#flights.delete(key);
      }
    })();
    const flight: Flight<R> = { controller, waiters: 0, pinned, promise };
    holder.flight = flight;
    this.#flights.set(key, flight);
    return flight;
  }

  /** Wait on a shared flight; this waiter's abort only aborts the flight when no other waiter remains. */
  async wait(key: string, flight: Flight<R>, signal: AbortSignal | undefined, label: string): Promise<R> {
    if (signal === undefined) {
      flight.pinned = true;
      return flight.promise;
    }
    flight.waiters++;
    const onAbort = (): void => {
      flight.waiters--;
      if (flight.waiters === 0 && !flight.pinned) {
        if (this.#flights.get(key) === flight) this.#flights.delete(key);
        flight.controller.abort(signal.reason);
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await raceAbort(flight.promise, signal, label);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
