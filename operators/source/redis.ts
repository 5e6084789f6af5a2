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
 * ```
 */
import type { RedisValueType, SourceResult } from '../../engine/api.js';
import { defineOperator } from '../../engine/api.js';
import { cachePolicy, DEFAULT_TTL_MS, expandEnv, fillTemplate, REMOTE_SOURCE_PROPERTIES, sourceFromTable, templateProblems, unsetEnvProblems, type RemoteSourceParams } from './http.js';
import { pointer } from '../util.js';

export interface RedisSourceParams extends RemoteSourceParams {
  readonly key: string;
  readonly type: RedisValueType;
  readonly url?: string;
}

export const redisSource = defineOperator<RedisSourceParams>({
  kind: 'source',
  // Answers are cached for ttl_ms: candidates built from them may be reused that long (as HttpSource).
  memoTtlMs: (p) => p.ttl_ms ?? DEFAULT_TTL_MS,
  name: 'RedisSource',
  // `columns:` are added to the frame: later steps and `return` may name them.
  writes: (p) => [...(p.columns ?? [])],
  connects: ['url', 'key'],
  summary: 'Item ids from a Redis set, list, sorted set, hash, JSON string or Arrow blob, cached in process.',
  parameters: {
    type: 'object',
    properties: {
      key: { type: 'string', minLength: 1 },
      type: { enum: ['set', 'list', 'zset', 'hash', 'json', 'arrow'] },
      url: { type: 'string', pattern: '^(rediss?://|\\{env:)' },
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
      },
      cache: cachePolicy(params),
      source: `RedisSource ${params.type}`,
    });
    return sourceFromTable(ds, params, ctx.itemType);
  },
});
