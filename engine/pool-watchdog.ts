/**
 * The pool's deadline watchdog (a task past its deadline plus a grace leaves the queue, or its
 * worker is stopped) and the error of a worker lost under a task; split out of pool.ts.
 */
import { AirmailError } from './errors.js';
import { deadlineInStep, stepName, type StepAt } from './step-slots.js';
import type { QueueSignal } from './slot-queue.js';

/**
 * What piscina needs of a signal (aborted, reason, abort listeners), without an
 * AbortController: a Node AbortSignal is a transferable object, and making one
 * costs more than the rest of a small request's hop to a worker.
 */
export class WatchdogSignal {
  aborted = false;
  reason: unknown;
  /** The step slot of the task on a worker now (-1: waiting for one). */
  slot = -1;
  private listeners: (() => void)[] = [];
  addEventListener(_name: 'abort', listener: () => void): void {
    this.listeners.push(listener);
  }
  removeEventListener(_name: 'abort', listener: () => void): void {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const ls = this.listeners;
    this.listeners = [];
    for (const l of ls) l();
  }
}

/** Aborts at `deadline + graceMs` (or when `outer` aborts); dispose() clears the timer. */
export function deadlineWatchdog(deadline: number, graceMs: number, outer: QueueSignal | undefined, inNative: () => boolean, stepIn: (slot: number) => StepAt | undefined, cancel?: (slot: number) => void): { signal: WatchdogSignal; dispose(): void } {
  const signal = new WatchdogSignal();
  let timer: NodeJS.Timeout;
  // Aborting a running task stops its worker. While a worker is inside onnxruntime that would abort
  // the process (native-guard.ts), so wait for it to come out: 20 ms at a time, at most a second.
  const abort = (reason: unknown, waited = 0): void => {
    if (signal.aborted) return;
    if (waited < 1000 && inNative()) timer = setTimeout(() => abort(reason, waited + 20), 20);
    else signal.abort(reason);
  };
  timer = setTimeout(() => {
    // Read now: the worker may never answer, and its step's name is only in the step slot.
    const at = stepIn(signal.slot);
    abort(at
      ? deadlineInStep(at, Date.now(), `its worker was stopped ${graceMs} ms past the deadline and replaced`)
      : new AirmailError('DEADLINE_EXCEEDED', `the request ran past its deadline by ${graceMs} ms; it was removed from the queue or its worker was stopped`));
  }, Math.max(0, deadline - Date.now() + graceMs));
  // The client has gone (or a caller aborted): a waiting task leaves the queue at once. A running
  // one is cancelled in its worker (`cancel`: ctx.signal aborts, remote fetches stop), and its
  // worker is stopped only if the task is still running `graceMs` later, as past a deadline: a
  // runaway that ignores ctx.signal. Stopping it at once would cost a fresh worker per client that
  // gave up, on the very overload in which clients give up.
  let late: NodeJS.Timeout | undefined;
  const onOuter = (): void => {
    if (signal.slot < 0 || !cancel) return abort(outer!.reason);
    cancel(signal.slot);
    late = setTimeout(() => abort(outer!.reason), graceMs);
  };
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  return {
    signal,
    dispose() {
      clearTimeout(timer);
      clearTimeout(late);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}

/** A worker died under a task (process.exit, out of heap, native crash): only that request fails. */
export function workerLost(err: unknown, at: StepAt | undefined): AirmailError {
  const e = err as { message?: string; code?: string };
  const oom = e.code === 'ERR_WORKER_OUT_OF_MEMORY';
  const where = at ? ` in ${stepName(at.step)} (${Math.round(Date.now() - at.since).toLocaleString('en-US')} ms in it)` : '';
  return new AirmailError('WORKER_FAILED', oom
    ? `the worker ran out of heap while running this request${where}; it was replaced`
    : `the worker running this request exited${where} (${e.message ?? String(err)}); it was replaced`, { cause: err, ...(at ? { operator: at.step.label } : {}) });
}
