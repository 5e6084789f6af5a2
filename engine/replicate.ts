/**
 * Admin config changes reach every replica: a replica that applies POST or
 * DELETE /pipelines records the new text in a Redis hash (for replicas that
 * start later) and publishes it; every replica applies the messages in the
 * order Redis delivers them, so all of them end on the same text, hence the
 * same version (a content hash), even when two replicas are changed at once.
 *
 *   HSET airmail:configs:admin <name> <text>   (HDEL on remove)
 *   PUBLISH airmail:configs {op, name, text, hash, origin}
 *
 * The publisher applies its own message too when its text has moved on since
 * (two concurrent changes): Redis order decides, for everyone. A replica that
 * starts or reconnects applies the hash first. Files in the configs folder
 * (a ConfigMap, a shared volume) stay the baseline; the hash holds only what
 * admins changed. Redis being down never blocks a local change: it is applied
 * here, kept as pending, and published when Redis answers again (retried
 * every second and on reconnect, before the hash is read back), so a Redis
 * that restarted empty learns it again and the other replicas converge.
 * A Redis that restarted empty (no persistence) has also lost the changes
 * made while it was up: on every (re)connect each replica records again the
 * admin state it knows for any name Redis no longer holds (first one wins,
 * atomically, and is published), so a replica started meanwhile, whose folder
 * is only the baseline, still learns every change.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { AdminChange, ConfigStore } from './config-store.js';
import { safeRedisOptions } from './cache/redis-store.js';

export interface ReplicateOptions {
  readonly redisUrl: string;
  /** Pub/sub channel; default 'airmail:configs'. */
  readonly channel?: string;
  /** Hash of admin-changed texts; default 'airmail:configs:admin'. */
  readonly hashKey?: string;
  /** Tombstone set of admin-removed names; default '<hashKey>:removed'. */
  readonly removedKey?: string;
}

interface Message {
  readonly op: 'put' | 'remove';
  readonly name: string;
  readonly text?: string;
  readonly hash?: string;
  readonly origin: string;
}

const REPLICA = 'replica';
/** Record a known admin state only where Redis holds nothing for the name (a Redis that restarted empty), and publish it. */
const RESEED = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
if ARGV[2] == 'put' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) else redis.call('SADD', KEYS[2], ARGV[1]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`;
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

export interface ReplicatorStats {
  readonly published: number;
  readonly applied: number;
  readonly rejected: number;
  readonly publishErrors: number;
}

export class Replicator {
  readonly id = randomUUID();
  readonly #store: ConfigStore;
  readonly #channel: string;
  readonly #hashKey: string;
  readonly #removedKey: string;
  readonly #pub: Redis;
  readonly #sub: Redis;
  /** Text hash each pipeline has here after the last admin change we know of. */
  readonly #local = new Map<string, string | null>();
  /** The latest admin state of each name this replica applied (its own or another's), to record again in a Redis that lost it. */
  readonly #known = new Map<string, Message>();
  /** Local admin changes not yet recorded in Redis, the latest per name. */
  readonly #pending = new Map<string, Message>();
  #retry: NodeJS.Timeout | undefined;
  #unhook: (() => void) | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;
  #c = { published: 0, applied: 0, rejected: 0, publishErrors: 0 };

  constructor(store: ConfigStore, opts: ReplicateOptions) {
    this.#store = store;
    this.#channel = opts.channel ?? 'airmail:configs';
    this.#hashKey = opts.hashKey ?? 'airmail:configs:admin';
    this.#removedKey = opts.removedKey ?? `${this.#hashKey}:removed`;
    // Publishing may queue briefly while reconnecting; the subscriber must (ioredis re-subscribes on reconnect).
    this.#pub = new Redis(opts.redisUrl, safeRedisOptions({ enableOfflineQueue: true, maxRetriesPerRequest: 1, commandTimeout: 2000 }));
    this.#sub = new Redis(opts.redisUrl, safeRedisOptions({ enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true }));
    this.#pub.on('error', () => undefined);
    this.#sub.on('error', () => undefined);
  }

  /**
   * Subscribe, then apply what admins changed before this replica started.
   * Rejects when Redis does not answer within `timeoutMs`; the clients keep
   * reconnecting, and each reconnect applies the hash again.
   */
  async start(timeoutMs = 5000): Promise<void> {
    this.#unhook = this.#store.onAdmin((c) => this.#onLocal(c));
    this.#sub.on('message', (_ch: string, raw: string) => void this.#serial(() => this.#onMessage(raw)));
    // After a reconnect, messages sent meanwhile are lost: the hash holds their result.
    this.#sub.on('ready', () => void this.#serial(() => this.#sync()));
    this.#pub.on('ready', () => void this.#serial(() => this.#sync()));
    this.#pub.connect().catch(() => undefined);
    this.#sub.connect().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms; replication will start when it does`)), timeoutMs);
    });
    try {
      await Promise.race([this.#sub.subscribe(this.#channel), timeout]);
    } finally {
      clearTimeout(timer);
    }
    await this.#serial(() => this.#sync());
  }

  stats(): ReplicatorStats {
    return { ...this.#c };
  }

  /** Resolves once every message received so far is applied (for tests and orderly shutdown). */
  idle(): Promise<void> {
    return this.#chain.then(() => undefined);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unhook?.();
    clearTimeout(this.#retry);
    await this.#chain.catch(() => undefined);
    this.#sub.disconnect(false);
    await Promise.race([this.#pub.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 200).unref())]);
    this.#pub.disconnect(false);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn, fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  #onLocal(c: AdminChange): void {
    this.#local.set(c.name, c.op === 'put' ? sha(c.text ?? '') : null);
    const msg: Message = c.op === 'put'
      ? { op: 'put', name: c.name, text: c.text ?? '', hash: sha(c.text ?? ''), origin: this.id }
      : { op: 'remove', name: c.name, origin: this.id };
    this.#known.set(c.name, msg);
    if (c.origin === REPLICA || this.#closed) return;
    this.#pending.set(c.name, msg);
    this.#publish(msg).catch((err: unknown) => {
      process.emitWarning(`admin change to '${c.name}' applied here but not published yet (retried until Redis answers): ${(err as Error).message}`, { code: 'AIRMAIL_REPLICATE_PUBLISH' });
    });
  }

  /** Record `msg` in Redis and publish it; on failure it stays pending and a retry is scheduled. */
  async #publish(msg: Message): Promise<void> {
    const tx = this.#pub.multi();
    if (msg.op === 'put') tx.hset(this.#hashKey, msg.name, msg.text!).srem(this.#removedKey, msg.name);
    else tx.hdel(this.#hashKey, msg.name).sadd(this.#removedKey, msg.name);
    tx.publish(this.#channel, JSON.stringify(msg));
    try {
      await tx.exec();
    } catch (err) {
      this.#c.publishErrors++;
      this.#scheduleRetry();
      throw err;
    }
    this.#c.published++;
    if (this.#pending.get(msg.name) === msg) this.#pending.delete(msg.name);
  }

  #scheduleRetry(): void {
    if (this.#retry || this.#closed) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#serial(() => this.#flush());
    }, 1000);
    this.#retry.unref();
  }

  /** Publish what is pending, oldest first; stops at the first failure (a retry is scheduled). */
  async #flush(): Promise<void> {
    for (const msg of [...this.#pending.values()]) {
      if (this.#closed) return;
      try {
        await this.#publish(msg);
      } catch {
        return;
      }
    }
  }

  async #onMessage(raw: string): Promise<void> {
    let msg: Message;
    try {
      msg = JSON.parse(raw) as Message;
    } catch {
      return;
    }
    if (typeof msg.name !== 'string' || (msg.op !== 'put' && msg.op !== 'remove')) return;
    await this.#apply(msg.op, msg.name, msg.text);
  }

  /** Make the local state of `name` what Redis says, unless it already is. */
  async #apply(op: 'put' | 'remove', name: string, text: string | undefined): Promise<void> {
    if (this.#closed) return;
    if (op === 'put') {
      const h = sha(text ?? '');
      if (this.#local.get(name) === h) return;
      const diags = await this.#store.put(name, text ?? '', REPLICA);
      if (diags.length === 0) this.#c.applied++;
      else {
        this.#c.rejected++;
        this.#diverged('put', name, diags);
        this.#local.set(name, h); // not retried until the text changes; the rejection is on GET /pipelines
        this.#known.set(name, { op: 'put', name, text: text ?? '', hash: h, origin: this.id });
      }
    } else {
      if (this.#local.get(name) === null && !this.#store.snapshot.pipelines.has(name)) return;
      if (!this.#store.snapshot.pipelines.has(name)) {
        this.#local.set(name, null);
        this.#known.set(name, { op: 'remove', name, origin: this.id });
        return;
      }
      const r = await this.#store.remove(name, REPLICA);
      if (r !== 'not-found' && r.length === 0) this.#c.applied++;
      else if (r !== 'not-found') {
        this.#c.rejected++;
        this.#diverged('remove', name, r);
      }
    }
  }

  /**
   * A change another replica applied that this one cannot (its configs folder is read-only, or the
   * text does not compile against its folder): it keeps serving what it had, so the replicas
   * diverge. Said on its log, or nothing would show it (README "Running several replicas").
   */
  #diverged(op: 'put' | 'remove', name: string, diags: readonly { readonly code: string; readonly message: string }[]): void {
    const version = this.#store.snapshot.pipelines.get(name)?.version;
    const first = diags[0]!;
    process.emitWarning(`admin ${op === 'put' ? 'change to' : 'removal of'} '${name}' made on another replica was not applied here (${first.code}: ${first.message}); this replica keeps serving ${version ? `version ${version}` : 'no pipeline'} under that name, unlike the others`, { code: 'AIRMAIL_REPLICATE_DIVERGED' });
  }

  async #sync(): Promise<void> {
    // Our own changes made while Redis was away go first: the hash must not revert them.
    await this.#flush();
    try {
      await this.#reseed();
    } catch {
      return; // Redis away: the retry or the next 'ready' syncs
    }
    let texts: Record<string, string>;
    let removed: string[];
    try {
      [texts, removed] = await Promise.all([this.#pub.hgetall(this.#hashKey), this.#pub.smembers(this.#removedKey)]);
    } catch {
      return; // Redis away: the next 'ready' syncs
    }
    for (const [name, text] of Object.entries(texts)) if (!this.#pending.has(name)) await this.#apply('put', name, text);
    for (const name of removed) if (!this.#pending.has(name)) await this.#apply('remove', name, undefined);
  }

  async #reseed(): Promise<void> {
    for (const msg of [...this.#known.values()]) {
      if (this.#closed) return;
      if (this.#pending.has(msg.name)) continue; // published as is by #flush
      await this.#pub.eval(RESEED, 2, this.#hashKey, this.#removedKey, msg.name, msg.op, msg.text ?? '', this.#channel, JSON.stringify(msg));
    }
  }
}

/** Start replicating a store's admin changes over Redis. */
export async function startReplication(store: ConfigStore, opts: ReplicateOptions): Promise<Replicator> {
  const r = new Replicator(store, opts);
  await r.start();
  return r;
}
