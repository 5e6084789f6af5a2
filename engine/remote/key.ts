/**
 * The cache key of a remote request: what it asks for, not how patiently.
 * Timeouts and retry counts do not change the answer, so they are left out;
 * headers are in (they may select a tenant), hashed so secrets never become
 * Redis key names.
 */
import { createHash } from 'node:crypto';
import type { RemoteFetch, RemoteRequest } from '../api.js';
import { redactText } from '../redact.js';

export function remoteKey(r: RemoteRequest): string {
  // Each part is a JSON string in one array, never joined with a separator: a Redis key or URL
  // holding ':' (a key 'first5:k' beside a first-5 read of 'k', a URL ending ':lock' beside another's
  // lock) must not spell another request's key, or a request input could read another's answer.
  if (r.kind === 'http') {
    const h = r.headers && Object.keys(r.headers).length > 0
      ? createHash('sha256').update(JSON.stringify(Object.entries(r.headers).sort(([a], [b]) => a.localeCompare(b)))).digest('hex').slice(0, 16)
      : '';
    return `http:${JSON.stringify([r.format ?? '', r.path ?? '', r.url, h])}`;
  }
  // A first-N read (or a zset read from its top) is another answer than the whole key.
  return `redis:${JSON.stringify([r.url ? hostOf(r.url) : '', r.type, r.limit ?? null, r.order === 'desc' ? 'desc' : 'asc', r.key])}`;
}

/** host:port/db of a Redis URL, without credentials. */
function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return createHash('sha256').update(url).digest('hex').slice(0, 16);
  }
}

/**
 * The name a fetch is counted under (cache stats, metrics): its source's, or for a custom source
 * that gave none, its kind. Never the cache key: the key holds the URL or Redis key a request
 * filled in, a stats entry and a metrics series per value a client sent.
 */
export function statsName(f: RemoteFetch): string {
  return f.source ?? `${f.request.kind} (unnamed source)`;
}

/**
 * A remote fetch in people's words, URLs redacted: `HttpSource GET http://host/path`,
 * `dataset prices GET http://host/p.json`, `RedisSource list recs:3`.
 */
export function describeFetch(f: RemoteFetch): string {
  // The source's own name without the URL some sources append to it (HttpSource's).
  const who = (f.source ?? '').replace(/\s*\S+:\/\/\S*$/, '');
  const r = f.request;
  return redactText(r.kind === 'http' ? `${who || 'http'} GET ${r.url}` : `${who || `redis ${r.type}`} ${r.key}`);
}
