/**
 * The worker side of remote sources: a small front cache of tables under the
 * deadlines the broker gave them, and a channel to the broker for the rest.
 *
 *   fresh in front   → the table, no message.
 *   stale in front   → the table now; one refresh request to the broker per
 *                      key at a time (the broker coalesces across workers).
 *   absent / expired → ask the broker; concurrent asks of this worker for one
 *                      key share a message.
 *
 * `inlineRemote(broker)` is the same front wired straight to a broker, for
 * the inline runner and for tests.
 */
import { BroadcastChannel, threadId } from 'node:worker_threads';
import type { Dataset, RemoteFetch } from '../api.js';
import { raceAbort } from '../cache/abort.js';
import { policyDeadlines } from '../cache/cache.js';
import { Lru } from '../cache/lru.js';
import { Table } from '../dataset.js';
import { AirmailError, clientClosedError, fromWire } from '../errors.js';
import type { BrokerReply, BrokerRequest, RemoteBroker, RemoteReply } from './broker.js';
import { describeFetch, remoteKey, statsName } from './key.js';
import { noteRemote } from '../observe/collect.js';
import type { FetchTrace } from '../observe/types.js';

/** How long a worker waits on the broker before giving up (the request deadline usually fires first). */
const BROKER_TIMEOUT_MS = 30_000;

/**
 * `refresh`: answer with the refreshed table once it lands (the caller already served a stale one).
 * `trace`: the traced request's fetch that asks (never a refresh: it outlives the request).
 */
type Load = (f: RemoteFetch, refresh: boolean, trace?: FetchTrace) => Promise<RemoteReply>;

/**
 * Told, for each answer, until when (epoch ms) it is fresh: in the past for one served stale. The
 * executor keeps candidates built from remote answers no longer than that (memo.ts).
 */
export type FreshUntil = (until: number) => void;

export class RemoteFront {
  readonly #front: Lru<{ readonly table: Table; readonly storedAt: number }>;
  readonly #load: Load;
  readonly #pending = new Map<string, Promise<{ readonly table: Table; readonly freshUntil: number }>>();
  readonly #now: () => number;

  constructor(load: Load, opts: { maxEntries?: number; now?: () => number } = {}) {
    this.#load = load;
    this.#front = new Lru<{ readonly table: Table; readonly storedAt: number }>({ maxEntries: opts.maxEntries ?? 256 });
    this.#now = opts.now ?? Date.now;
  }

  fetch(f: RemoteFetch, signal?: AbortSignal, fresh?: FreshUntil, trace?: FetchTrace): Promise<Dataset> {
    const key = remoteKey(f.request);
    const now = this.#now();
    const e = this.#front.get(key, now);
    // Deadlines under this request's policy: a TTL shortened since the answer came takes effect at once.
    const d = e && policyDeadlines(e.freshUntil, e.staleUntil, e.value.storedAt, f.cache);
    if (e !== undefined && d !== undefined && now < d.staleUntil) {
      noteRemote(now < d.freshUntil ? 'hit' : 'stale', statsName(f));
      if (now < d.freshUntil) {
        fresh?.(d.freshUntil);
        return Promise.resolve(e.value.table);
      }
      if (!this.#pending.has(key)) {
        this.#ask(key, f, true).catch(() => undefined); // stale: refresh behind
        fresh?.(d.freshUntil);
        return Promise.resolve(e.value.table);
      }
      // A refresh is out. An idle piscina worker sleeps in Atomics.wait, so its
      // answer may be queued unread: yield once (the check phase runs after
      // pending messages are delivered) and take it if it landed.
      return new Promise<Dataset>((resolve) => setImmediate(() => {
        const landed = this.#front.peek(key, this.#now());
        fresh?.(landed && landed !== e ? landed.freshUntil : d.freshUntil);
        resolve((landed ?? e).value.table);
      }));
    }
    noteRemote(this.#pending.has(key) ? 'coalesced' : 'miss', statsName(f));
    // A fetch that joins this thread's ask in flight sends no trace: the first asker's call is the one made.
    const answer = (this.#pending.get(key) ?? this.#ask(key, f, false, trace)).then((r) => {
      fresh?.(r.freshUntil);
      return r.table;
    });
    return raceAbort(answer, signal, signal ? describeFetch(f) : undefined);
  }

  #ask(key: string, f: RemoteFetch, refresh: boolean, trace?: FetchTrace): Promise<{ readonly table: Table; readonly freshUntil: number }> {
    const p = this.#load(f, refresh, trace).then(
      (r) => {
        const t = new Table(r.handle);
        if (r.staleUntil > this.#now()) this.#front.set(key, { table: t, storedAt: r.storedAt }, r.freshUntil, r.staleUntil);
        return { table: t, freshUntil: r.freshUntil };
      },
    ).finally(() => {
      if (this.#pending.get(key) === p) this.#pending.delete(key);
    });
    this.#pending.set(key, p);
    return p;
  }
}

/** A worker's client of the broker listening on `channel`. */
export class RemoteClient {
  readonly #requests: BroadcastChannel;
  readonly #replies: BroadcastChannel;
  readonly #waiting = new Map<number, { resolve: (r: RemoteReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout; trace: FetchTrace | undefined }>();
  readonly #front: RemoteFront;
  #seq = 0;

  constructor(channel: string) {
    this.#requests = new BroadcastChannel(channel);
    this.#requests.unref();
    this.#replies = new BroadcastChannel(`${channel}:${threadId}`);
    this.#replies.unref();
    this.#replies.onmessage = (ev: unknown) => this.#onReply((ev as { data: BrokerReply }).data);
    this.#front = new RemoteFront((f, refresh, trace) => this.#send(f, refresh, trace));
  }

  fetch(f: RemoteFetch, signal?: AbortSignal, fresh?: FreshUntil, trace?: FetchTrace): Promise<Dataset> {
    return this.#front.fetch(f, signal, fresh, trace);
  }

  /**
   * The task of this worker was cancelled (its client has gone): every ask still waiting is dropped
   * here, and the broker is told, so that a fetch no other request waits on is aborted upstream.
   */
  cancelPending(): void {
    for (const [id, w] of this.#waiting) {
      clearTimeout(w.timer);
      w.reject(clientClosedError());
      const msg: BrokerRequest = { id, from: threadId, cancel: true };
      this.#requests.postMessage(msg);
    }
    this.#waiting.clear();
  }

  close(): void {
    this.#requests.close();
    this.#replies.close();
    for (const w of this.#waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new AirmailError('SOURCE_FAILED', 'the remote client closed'));
    }
    this.#waiting.clear();
  }

  #send(f: RemoteFetch, refresh: boolean, trace?: FetchTrace): Promise<RemoteReply> {
    const id = ++this.#seq;
    return new Promise<RemoteReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new AirmailError('SOURCE_FAILED', `the remote broker did not answer within ${BROKER_TIMEOUT_MS} ms`));
      }, BROKER_TIMEOUT_MS);
      timer.unref();
      this.#waiting.set(id, { resolve, reject, timer, trace });
      const msg: BrokerRequest = refresh ? { id, from: threadId, fetch: f, refresh }
        : trace ? { id, from: threadId, fetch: f, trace: trace.tracestate ? { traceparent: trace.traceparent, tracestate: trace.tracestate } : { traceparent: trace.traceparent } }
        : { id, from: threadId, fetch: f };
      this.#requests.postMessage(msg);
    });
  }

  #onReply(msg: BrokerReply): void {
    const w = this.#waiting.get(msg.id);
    if (!w) return;
    this.#waiting.delete(msg.id);
    clearTimeout(w.timer);
    if (w.trace && msg.call) w.trace.call = msg.call;
    if (w.trace && msg.joined) w.trace.joined = msg.joined;
    if (msg.ok) w.resolve(msg.reply);
    else w.reject(fromWire(msg.error));
  }
}

/** The front wired straight to a broker in this thread (inline runner, tests). */
export function inlineRemote(broker: RemoteBroker): (f: RemoteFetch, signal: AbortSignal, fresh?: FreshUntil, trace?: FetchTrace) => Promise<Dataset> {
  const front = new RemoteFront((f, refresh, trace) => broker.fetch(f, undefined, refresh, trace));
  return (f, signal, fresh, trace) => front.fetch(f, signal, fresh, trace);
}
