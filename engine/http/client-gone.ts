/**
 * A single request whose client goes away (closes the connection before its answer) stops its run:
 * it leaves the worker queue, or is cancelled in its worker (engine/task-cancel.ts), and counts as
 * 499 CLIENT_CLOSED. Under overload clients time out and retry; without this every abandoned run
 * kept its place in the queue and then its worker to its end or its deadline, for nobody.
 *
 * Not an AbortController per request: one costs the main thread about 3 µs, the 'close' listener
 * and this object about a tenth of that. The pool takes any signal of this shape (slot-queue.ts);
 * an inline run makes a real AbortSignal from it (pool.ts).
 */
import type { ServerResponse } from 'node:http';
import { clientClosedError } from '../errors.js';
import type { QueueSignal } from '../slot-queue.js';

export class ClientGone implements QueueSignal {
  aborted = false;
  reason: unknown;
  private listeners: (() => void)[] | undefined;
  addEventListener(_name: 'abort', listener: () => void): void {
    (this.listeners ??= []).push(listener);
  }
  removeEventListener(_name: 'abort', listener: () => void): void {
    if (this.listeners) this.listeners = this.listeners.filter((l) => l !== listener);
  }
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    // Without a stack: a client leaving is no fault of the server's, and under overload it is every other request.
    this.reason = clientClosedError();
    const ls = this.listeners ?? [];
    this.listeners = undefined;
    for (const l of ls) l();
  }
}

/**
 * The signal of a request answered on `res`: aborted when its connection closes before the answer
 * was written. A keep-alive connection's answered request sees 'close' after its answer: not gone.
 */
export function clientGone(res: ServerResponse): ClientGone {
  const gone = new ClientGone();
  // Gone already (while its body arrived, or the app read it).
  if (res.socket?.destroyed && !res.writableFinished) {
    gone.abort();
    return gone;
  }
  res.once('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  return gone;
}
