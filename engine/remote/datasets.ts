/**
 * Datasets that live elsewhere: a `datasets:` entry with `redis:` or `http:`
 * instead of `path:` is read through the broker (so through its cache, with
 * the same TTL, coalescing and bounded retries as remote sources) when the
 * config loads, and becomes a shared-memory table like a file dataset.
 *
 * ```yaml
 * datasets:
 *   prices:    {redis: {key: prices, type: hash}, key: field, ttl_ms: 300000}
 *   inventory: {http: {url: 'http://inventory:8091/all', format: arrow}, ttl_ms: 60000}
 * ```
 *
 * The table is read again on every reload (a changed config file, an admin
 * change), through the cache: at most once per `ttl_ms`. Its identity (and so
 * the versions of the pipelines that use it) is a hash of its content.
 *
 * `{env:NAME}` / `{env:NAME|default}` in the url (and headers) are expanded at
 * each load, as for HttpSource and RedisSource (`withEnv`).
 */
import { createHash } from 'node:crypto';
import type { RemoteFetch, RemoteRequest, RedisValueType } from '../api.js';
import { isNumeric } from '../api.js';
import { Table } from '../dataset.js';
import { expandEnv, unsetEnvMessage, unsetEnvNames } from '../env-ref.js';
import type { RemoteBroker } from './broker.js';
import { REDIS_DATASET_READ_DEFAULTS } from './redis-read.js';

export interface RemoteDatasetConfig {
  readonly key?: string;
  readonly ttl_ms?: number;
  readonly redis?: {
    readonly key: string; readonly type: RedisValueType; readonly url?: string; readonly timeout_ms?: number; readonly retries?: number;
    readonly max_items?: number; readonly max_bytes?: number; readonly limit?: number; readonly order?: 'asc' | 'desc';
  };
  readonly http?: {
    readonly url: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly format?: 'json' | 'arrow';
    readonly path?: string;
    readonly timeout_ms?: number;
    readonly retries?: number;
    readonly max_bytes?: number;
  };
}

/** Reads a remote dataset: the table (named `name`, keyed by `cfg.key`) and a content identity. */
export type RemoteDatasetLoader = (name: string, cfg: RemoteDatasetConfig) => Promise<{ table: Table; id: string }>;

export const DEFAULT_DATASET_TTL_MS = 60_000;
/** A dataset is a whole table read at load, not a per-request answer: a larger default body than HttpSource's. */
export const DEFAULT_DATASET_MAX_BYTES = 256 * 1024 * 1024;

export function datasetFetch(name: string, cfg: RemoteDatasetConfig): RemoteFetch {
  let request: RemoteRequest;
  if (cfg.redis) {
    const r = cfg.redis;
    request = {
      kind: 'redis', key: r.key, type: r.type,
      ...(r.url ? { url: r.url } : {}),
      ...(r.timeout_ms !== undefined ? { timeoutMs: r.timeout_ms } : {}),
      ...(r.retries !== undefined ? { retries: r.retries } : {}),
      // Bounded as an http: dataset is, with the larger bounds of a table read once at load.
      maxItems: r.max_items ?? REDIS_DATASET_READ_DEFAULTS.maxItems,
      maxBytes: r.max_bytes ?? REDIS_DATASET_READ_DEFAULTS.maxBytes,
      ...(r.limit !== undefined ? { limit: r.limit } : {}),
      ...(r.order !== undefined ? { order: r.order } : {}),
    };
  } else if (cfg.http) {
    const h = cfg.http;
    request = {
      kind: 'http', url: h.url,
      ...(h.headers ? { headers: h.headers } : {}),
      ...(h.format ? { format: h.format } : {}),
      ...(h.path ? { path: h.path } : {}),
      ...(h.timeout_ms !== undefined ? { timeoutMs: h.timeout_ms } : {}),
      ...(h.retries !== undefined ? { retries: h.retries } : {}),
      maxBytes: h.max_bytes ?? DEFAULT_DATASET_MAX_BYTES,
    };
  } else {
    throw new TypeError(`dataset '${name}' is not remote`);
  }
  return { request, cache: { ttlMs: cfg.ttl_ms ?? DEFAULT_DATASET_TTL_MS }, source: `dataset ${name}` };
}

/**
 * The config with `{env:}` expanded in `http.url`, `http.headers` and `redis.url`, or the problems
 * (pointers under the dataset's entry): an unset variable without a default, named, or an expanded
 * url of the wrong scheme, not shown (it may hold a secret).
 */
export function withEnv(cfg: RemoteDatasetConfig, env: Readonly<Record<string, string | undefined>> = process.env): { cfg: RemoteDatasetConfig; problems: { pointer: string; message: string }[] } {
  const problems: { pointer: string; message: string }[] = [];
  const expand = (v: string, pointer: string): string => {
    const out = expandEnv(v, env);
    for (const name of unsetEnvNames(out)) problems.push({ pointer, message: unsetEnvMessage(name) });
    return out;
  };
  const scheme = (url: string, pointer: string, schemes: readonly string[]): void => {
    if (problems.some((p) => p.pointer === pointer)) return;
    let protocol: string | undefined;
    try { protocol = new URL(url).protocol; } catch { /* reported below */ }
    if (protocol === undefined || !schemes.includes(protocol)) problems.push({ pointer, message: `the url, once {env:} is expanded, is not a ${schemes.map((x) => `${x}//`).join(' or ')} URL (it is not shown, as it may hold an expanded value)` });
  };
  if (cfg.http) {
    const url = expand(cfg.http.url, '/http/url');
    if (url !== cfg.http.url) scheme(url, '/http/url', ['http:', 'https:']);
    const headers = cfg.http.headers ? Object.fromEntries(Object.entries(cfg.http.headers).map(([k, v]) => [k, expand(v, `/http/headers/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`)])) : undefined;
    return { cfg: { ...cfg, http: { ...cfg.http, url, ...(headers ? { headers } : {}) } }, problems };
  }
  if (cfg.redis?.url) {
    const url = expand(cfg.redis.url, '/redis/url');
    if (url !== cfg.redis.url) scheme(url, '/redis/url', ['redis:', 'rediss:']);
    return { cfg: { ...cfg, redis: { ...cfg.redis, url } }, problems };
  }
  return { cfg, problems };
}

/** A hash of a table's content: column names, types and values. */
export function tableHash(t: Table): string {
  const h = createHash('sha256');
  for (const name of t.columnNames) {
    const c = t.column(name);
    h.update(`\u0000${name}\u0000`);
    if (isNumeric(c)) h.update(`${c.constructor.name}:`).update(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
    else if (c.kind === 'dict') h.update('dict:').update(new Uint8Array(c.codes.buffer, c.codes.byteOffset, c.codes.byteLength)).update(JSON.stringify(c.dictionary));
    else h.update(`str:${JSON.stringify(c.values)}`);
  }
  return h.digest('hex').slice(0, 16);
}

export function remoteDatasetLoader(broker: () => RemoteBroker): RemoteDatasetLoader {
  return async (name, cfg) => {
    const { handle } = await broker().fetch(datasetFetch(name, cfg));
    const table = new Table({ ...handle, name, key: cfg.key });
    return { table, id: `remote:${tableHash(table)}:${cfg.key ?? ''}` };
  };
}
