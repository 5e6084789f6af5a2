/**
 * AbortSignal helpers shared by the cache and the remote sources. A request's
 * deadline arrives as an AbortSignal; whatever waits on Redis or an upstream
 * must stop waiting when it fires, with a coded error.
 */
import { AirmailError } from '../errors.js';

/**
 * The error to throw when `signal` has fired: its reason when coded, else DEADLINE_EXCEEDED saying
 * what was waited for (`details.waitingFor`, so the executor can name the step: engine/execute.ts).
 */
export function abortError(signal: AbortSignal, what?: string): AirmailError {
  const reason: unknown = signal.reason;
  if (reason instanceof AirmailError) return reason;
  if (what === undefined) return new AirmailError('DEADLINE_EXCEEDED', "the request's deadline passed", { cause: reason });
  return new AirmailError('DEADLINE_EXCEEDED', `the request's deadline passed while waiting for ${what}`, { cause: reason, details: { waitingFor: what } });
}

/** A deadline error that names the step it stopped, e.g. `... waiting for AvailableInventory (HttpSource GET http://host/path)`. */
export function deadlineAtStep(e: AirmailError, step: string): AirmailError {
  const what = e.details?.['waitingFor'];
  if (typeof what !== 'string' || what.startsWith(`${step} `)) return e;
  return new AirmailError('DEADLINE_EXCEEDED', `the request's deadline passed while waiting for ${step} (${what})`, { operator: e.operator ?? step, cause: e });
}

export function throwIfAborted(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw abortError(signal, what);
}

/** Resolve/reject with `promise`, or reject with abortError as soon as `signal` fires. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, what?: string): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortError(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** setTimeout as a promise that rejects early when `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal, what?: string): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal, what));
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal, what));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
