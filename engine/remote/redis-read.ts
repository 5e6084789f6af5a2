/**
 * Bounded reads of a Redis key. A key may hold millions of members (or a
 * string of gigabytes); SMEMBERS / LRANGE 0 -1 / HGETALL / GET would bring it
 * all into the server's main thread (where the broker decodes it) and stall
 * or exhaust it. So every read has a bound, checked before the data is read:
 *
 * - list, zset: one command that reads at most `max_items + 1` members
 *   (LRANGE 0 max / ZRANGE 0 max): one member too many means too big, and only
 *   then is LLEN / ZCARD asked, to name the size. Same cost as before.
 * - json, arrow: GETRANGE 0 max_bytes, likewise; STRLEN only when too big.
 * - set, hash: there is no bounded read of an unordered type, so SCARD / HLEN
 *   first, then SMEMBERS / HGETALL (one more round trip, on a cache miss only).
 *
 * `limit: N` reads only the first N of an ordered type (a list from its head,
 * a zset from the lowest or, with `order: desc`, the highest score), at most
 * `max_items`. Sets and hashes have no first N: `limit` is refused. A config
 * sent over HTTP may not set `max_items` / `max_bytes` (the operators'
 * `bounds`): the preset in the configs directory decides how much is read.
 */
import type { Redis } from 'ioredis';
import type { JsonSchema, RedisRequestSpec, RedisValueType } from '../api.js';

/** Defaults for a source (per request): the sizes HttpSource allows. Datasets pass their own. */
export const REDIS_READ_DEFAULTS = { maxItems: 100_000, maxBytes: 16 * 1024 * 1024 } as const;
/** A dataset is read whole at load, not per request: larger bounds, as for `http:` datasets. */
export const REDIS_DATASET_READ_DEFAULTS = { maxItems: 1_000_000, maxBytes: 256 * 1024 * 1024 } as const;

/** The parameters that bound a read, for a source's (or a dataset's `redis:`) schema. */
export const REDIS_READ_PROPERTIES: Readonly<Record<string, JsonSchema>> = {
  max_items: { type: 'integer', minimum: 1, maximum: 100_000_000 },
  max_bytes: { type: 'integer', minimum: 1, maximum: 4 * 1024 * 1024 * 1024 },
  limit: { type: 'integer', minimum: 1, maximum: 100_000_000 },
  order: { enum: ['asc', 'desc'] },
};

export interface RedisReadParams {
  readonly type: RedisValueType;
  readonly max_items?: number;
  readonly max_bytes?: number;
  readonly limit?: number;
  readonly order?: 'asc' | 'desc';
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const COLLECTION = new Set<RedisValueType>(['set', 'list', 'zset', 'hash']);

/** Load-time problems of the bounding parameters for `type` (pointers relative to where they sit). */
export function redisReadProblems(p: RedisReadParams, defaults: { readonly maxItems: number } = REDIS_READ_DEFAULTS): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const t = p.type;
  const maxItems = p.max_items ?? defaults.maxItems;
  if (p.limit !== undefined && (t === 'list' || t === 'zset') && p.limit > maxItems) {
    out.push({ path: '/limit', message: `limit ${fmt(p.limit)} is more than max_items (${fmt(maxItems)}${p.max_items === undefined ? ', the default' : ''}): raise max_items too` });
  }
  if (p.limit !== undefined && (t === 'set' || t === 'hash')) {
    out.push({ path: '/limit', message: `a Redis ${t} has no order, so limit would keep an arbitrary ${p.limit} of its members; keep the candidates in a list or zset to read the first N, or raise max_items to read it all` });
  }
  if (p.limit !== undefined && (t === 'json' || t === 'arrow')) {
    out.push({ path: '/limit', message: `limit reads the first N members of a list or zset; a ${t} string is read whole (bounded by max_bytes)` });
  }
  if (p.order !== undefined && t !== 'zset') {
    out.push({ path: '/order', message: `order says which end of a sorted set (zset) to read from; a ${t} has none to choose${t === 'list' ? ' (a list is read from its head: LRANGE 0 N-1)' : ''}` });
  }
  if (t === 'zset' && p.limit !== undefined && p.order === undefined) {
    out.push({ path: '/limit', message: `limit on a zset needs order: desc (the ${p.limit} highest scores) or asc (the ${p.limit} lowest)` });
  }
  if (p.max_items !== undefined && !COLLECTION.has(t)) {
    out.push({ path: '/max_items', message: `max_items bounds a set, list, zset or hash; a ${t} string is bounded by max_bytes` });
  }
  if (p.max_bytes !== undefined && COLLECTION.has(t)) {
    out.push({ path: '/max_bytes', message: `max_bytes bounds a json or arrow string; a ${t} is bounded by its number of members, max_items` });
  }
  return out;
}

/** A refusal to read a key past its bound: not retried (the key would be as big again). */
export class TooBigError extends Error {}

/**
 * Issue the bounded read of `spec` and return the raw reply (as the unbounded command would give it:
 * string[] for set/list, flat [member, score, …] for zset, a record for hash, a Buffer or null for strings).
 * `run` wraps each command (the caller's timeout and abort).
 */
export async function boundedRead(client: Redis, spec: RedisRequestSpec, defaults: { maxItems: number; maxBytes: number }, run: <T>(p: Promise<T>) => Promise<T>): Promise<unknown> {
  const k = spec.key;
  const maxItems = spec.maxItems ?? defaults.maxItems;
  const tooMany = (n: number, what: string): TooBigError =>
    new TooBigError(`key '${k}' holds ${fmt(n)} ${what}, more than max_items (${fmt(maxItems)}); it was not read. Raise max_items to read it all${spec.type === 'list' || spec.type === 'zset' ? ', or give limit: N to read only the first N' : ''}`);
  switch (spec.type) {
    case 'list': {
      if (spec.limit !== undefined && spec.limit > maxItems) throw new TooBigError(`limit ${fmt(spec.limit)} is more than max_items (${fmt(maxItems)})`);
      const stop = spec.limit !== undefined ? spec.limit - 1 : maxItems;
      const reply = await run(client.lrange(k, 0, stop));
      if (spec.limit === undefined && reply.length > maxItems) throw tooMany(await run(client.llen(k)), 'members');
      return reply;
    }
    case 'zset': {
      if (spec.limit !== undefined && spec.limit > maxItems) throw new TooBigError(`limit ${fmt(spec.limit)} is more than max_items (${fmt(maxItems)})`);
      const stop = spec.limit !== undefined ? spec.limit - 1 : maxItems;
      const reply = await run(spec.order === 'desc' ? client.zrevrange(k, 0, stop, 'WITHSCORES') : client.zrange(k, '0', String(stop), 'WITHSCORES'));
      if (spec.limit === undefined && reply.length / 2 > maxItems) throw tooMany(await run(client.zcard(k)), 'members');
      return reply;
    }
    case 'set': {
      const n = await run(client.scard(k));
      if (n > maxItems) throw tooMany(n, 'members');
      return run(client.smembers(k));
    }
    case 'hash': {
      const n = await run(client.hlen(k));
      if (n > maxItems) throw tooMany(n, 'fields');
      return run(client.hgetall(k));
    }
    case 'json':
    case 'arrow': {
      const maxBytes = spec.maxBytes ?? defaults.maxBytes;
      const reply = await run(client.getrangeBuffer(k, 0, maxBytes));
      if (reply.length > maxBytes) {
        const n = await run(client.strlen(k));
        throw new TooBigError(`key '${k}' holds ${fmt(n)} bytes, more than max_bytes (${fmt(maxBytes)}); it was not read. Raise max_bytes to read it`);
      }
      // GETRANGE answers "" for an absent key (GET: nil): both read as no rows.
      return reply.length === 0 ? null : reply;
    }
  }
}
