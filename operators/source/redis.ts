/**
 * Candidates from a Redis key: a set, list or sorted set of item ids, a hash,
 * a JSON string of rows, or an Arrow IPC blob (`type`). `{name}` in the key is
 * filled from `vars` at request time, so one preset serves per-client keys.
 * The answer is cached in process for `ttl_ms` (it already lives in Redis;
 * caching it there again would only add a round trip), with the same
 * coalescing, stale-while-revalidate and bounded retries as HttpSource.
 * Redis is REDIS_URL unless `url` names another.
 *
 * ```yaml
 * - name: RedisSource
 *   parameters:
 *     key: 'recs:client:{client_id}'
 *     type: zset
 *     vars: {client_id: $client_id}
 *     ttl_ms: 5000
 *     timeout_ms: 50
 *     limit: 50          # the 50 highest scores (ZREVRANGE 0 49)
 *     order: desc
 * ```
 *
 * Every read is bounded, before the data is read: a set/list/zset/hash of more
 * than `max_items` members (100,000) or a string over `max_bytes` (16 MiB)
 * fails the step, naming the key, its size and the parameter to raise.
 */
import type { RedisValueType, SourceResult } from '../../engine/api.js';
import { defineOperator, REDIS_READ_PROPERTIES, redisReadProblems } from '../../engine/api.js';
import { cachePolicy, DEFAULT_TTL_MS, expandEnv, fillTemplate, REMOTE_SOURCE_PROPERTIES, sourceFromTable, templateProblems, unsetEnvProblems, type RemoteSourceParams } from './http.js';
import { pointer } from '../util.js';

export interface RedisSourceParams extends RemoteSourceParams {
  readonly key: string;
  readonly type: RedisValueType;
  readonly url?: string;
  /** The most members of a set/list/zset/hash (default 100,000): a larger key fails the step unread. */
  readonly max_items?: number;
  /** The largest json/arrow string (default 16 MiB): a larger one fails the step unread. */
  readonly max_bytes?: number;
  /** list/zset: read only the first N (a list's head; a zset's `order` end). */
  readonly limit?: number;
  /** zset: `desc` reads from the highest score, `asc` (default) from the lowest. */
  readonly order?: 'asc' | 'desc';
}

export const redisSource = defineOperator<RedisSourceParams>({
  kind: 'source',
  // Answers are cached for ttl_ms: candidates built from them may be reused that long (as HttpSource).
  memoTtlMs: (p) => p.ttl_ms ?? DEFAULT_TTL_MS,
  name: 'RedisSource',
  // `columns:` are added to the frame: later steps and `return` may name them.
  writes: (p) => [...(p.columns ?? [])],
  connects: ['url', 'key'],
  fixed: { url: 'the Redis server', key: 'the key it reads (a request value goes in `vars:`, written {name} in the key)' },
  bounds: ['max_items', 'max_bytes'],
  summary: 'Item ids from a Redis set, list, sorted set, hash, JSON string or Arrow blob, cached in process.',
  parameters: {
    type: 'object',
    properties: {
      key: { type: 'string', minLength: 1 },
      type: { enum: ['set', 'list', 'zset', 'hash', 'json', 'arrow'] },
      url: { type: 'string', pattern: '^(rediss?://|\\{env:)' },
      ...REDIS_READ_PROPERTIES,
      ...REMOTE_SOURCE_PROPERTIES,
    },
    required: ['key', 'type'],
    additionalProperties: false,
  },
  normalize(params) {
    return params.url ? { ...params, url: expandEnv(params.url) } : params;
  },
  check(params) {
    if (params.url) {
      const unset = unsetEnvProblems(params.url, '/url');
      if (unset.length > 0) return unset;
    }
    const problems = templateProblems(params.key, params.vars, '/key');
    for (const p of redisReadProblems(params)) problems.push({ ...p, code: 'BAD_PARAMETER' });
    for (const k of Object.keys(params.vars ?? {})) {
      if (!params.key.includes(`{${k}}`)) problems.push({ path: pointer('vars', k), message: `var '${k}' is not used in the key`, code: 'BAD_PARAMETER' });
    }
    return problems;
  },
  async run(params, ctx): Promise<SourceResult> {
    const key = fillTemplate(params.key, params.vars, (s) => s);
    const ds = await ctx.remote({
      request: {
        kind: 'redis',
        key,
        type: params.type,
        ...(params.url ? { url: params.url } : {}),
        ...(params.timeout_ms !== undefined ? { timeoutMs: params.timeout_ms } : {}),
        ...(params.retries !== undefined ? { retries: params.retries } : {}),
        ...(params.backoff_ms !== undefined ? { backoffMs: params.backoff_ms } : {}),
        ...(params.max_items !== undefined ? { maxItems: params.max_items } : {}),
        ...(params.max_bytes !== undefined ? { maxBytes: params.max_bytes } : {}),
        ...(params.limit !== undefined ? { limit: params.limit } : {}),
        ...(params.order !== undefined ? { order: params.order } : {}),
      },
      cache: cachePolicy(params),
      source: `RedisSource ${params.type}`,
    });
    return sourceFromTable(ds, params, ctx.itemType);
  },
});
