/**
 * AbortSignal helpers shared by the cache and the remote sources. A request's
 * deadline arrives as an AbortSignal; whatever waits on Redis or an upstream
 * must stop waiting when it fires, with a coded error.
 */
import { AirmailError } from '../errors.js';

/** The error to throw when `signal` has fired: its reason when coded, else DEADLINE_EXCEEDED. */
export function abortError(signal: AbortSignal, what = 'operation'): AirmailError {
  const reason: unknown = signal.reason;
  if (reason instanceof AirmailError) return reason;
  return new AirmailError('DEADLINE_EXCEEDED', `${what} aborted: the request deadline passed`, { cause: reason });
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
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
