/**
 * Cancelling a task a worker is running, without stopping the worker: the client that asked for it
 * has gone (engine/http/client-gone.ts). Stopping the worker (what the deadline watchdog does to a
 * runaway) would cost a fresh worker its start and every pipeline load, on the very overload in
 * which clients give up; a task that waits on an upstream or steps between operators stops at once.
 *
 * Pool side: one SharedArrayBuffer, two numbers per task slot: a generation bumped as a task takes
 * the slot, and the generation cancelled. A cancel writes the second and posts the slot on a
 * BroadcastChannel, which wakes a worker that waits on I/O; a worker between steps reads the flag.
 * Nothing is allocated or posted for a task that is not cancelled.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { clientClosedError } from './errors.js';

export class CancelSlots {
  readonly buffer: SharedArrayBuffer;
  readonly channel = `airmail-cancel:${randomUUID()}`;
  private readonly words: Int32Array;
  private port: BroadcastChannel | undefined;
  constructor(private readonly slots: number) {
    this.buffer = new SharedArrayBuffer(slots * 8);
    this.words = new Int32Array(this.buffer);
  }
  /** A task takes `slot`: a new generation, so that a late cancel of the one before misses it. */
  begin(slot: number): void {
    Atomics.add(this.words, slot, 1);
  }
  /** Cancels the task in `slot` now. */
  cancel(slot: number): void {
    Atomics.store(this.words, this.slots + slot, Atomics.load(this.words, slot));
    if (!this.port) {
      this.port = new BroadcastChannel(this.channel);
      this.port.unref();
    }
    this.port.postMessage(slot);
  }
  close(): void {
    this.port?.close();
  }
}

/**
 * Worker side: one task's cancel. `aborted` reads the shared flag; ctx.signal is made only when an
 * operator asks for it, and then also carries the deadline (as AbortSignal.timeout did).
 */
export class TaskCancel {
  #fired = false;
  #reason: unknown;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  constructor(private readonly words: Int32Array, readonly slot: number, private readonly gen: number) {}
  get aborted(): boolean {
    return this.#fired || Atomics.load(this.words, (this.words.length >> 1) + this.slot) === this.gen;
  }
  get reason(): unknown {
    return this.#reason ?? (this.aborted ? (this.#reason = clientClosedError()) : undefined);
  }
  signal(deadline: number | undefined): AbortSignal {
    if (this.#controller) return this.#controller.signal;
    const c = (this.#controller = new AbortController());
    if (this.aborted) this.fire();
    else if (deadline !== undefined) {
      this.#timer = setTimeout(() => c.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), Math.max(1, deadline - Date.now()));
      this.#timer.unref();
    }
    return c.signal;
  }
  /** Called when a cancel is posted: aborts ctx.signal if this task's flag is set. */
  poll(): boolean {
    if (this.#fired || !this.aborted) return false;
    this.fire();
    return true;
  }
  private fire(): void {
    this.#fired = true;
    clearTimeout(this.#timer);
    this.#controller?.abort(this.reason);
  }
  done(): void {
    clearTimeout(this.#timer);
  }
}

/** Worker side: the cancel of each task, and the listener that wakes the running one. */
export class CancelListener {
  private readonly words: Int32Array;
  private current: TaskCancel | undefined;
  constructor(buffer: SharedArrayBuffer, channel: string, onCancel: () => void) {
    this.words = new Int32Array(buffer);
    const port = new BroadcastChannel(channel);
    port.unref();
    port.onmessage = (ev: unknown) => {
      const slot = (ev as { data: unknown }).data;
      if (this.current && slot === this.current.slot && this.current.poll()) onCancel();
    };
  }
  /** The cancel of the task starting in `slot` (call end() when it is done). */
  begin(slot: number): TaskCancel {
    const t = new TaskCancel(this.words, slot, Atomics.load(this.words, slot));
    this.current = t;
    return t;
  }
  end(t: TaskCancel): void {
    t.done();
    if (this.current === t) this.current = undefined;
  }
}

