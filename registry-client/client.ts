/**
 * The registry over HTTP (undici Pool, one origin). Publishes as multipart/form-data, downloads into
 * a content-addressed cache (sha256 checked while streaming), and watches with server-sent events on
 * /watch/events, falling back to long polls on /watch, then to polling /resolve, as routes are missing.
 *
 *   const reg = new RegistryClient({ url: 'http://localhost:7070' });
 *   const env = await reg.resolve({ query: 'name=psale,stage=prod' });
 *   const path = await reg.download(env);
 *   const w = reg.watch({ query: 'name=psale,stage=prod' }, (next) => swap(next), { since: env });
 */
import { readFile } from 'node:fs/promises';
import { FormData, Pool, type Dispatcher } from 'undici';
import type { ArtifactRef, Envelope, EnvelopeSummary } from '../engine/registry/envelope.js';
import { isRegistryCode, RegistryError } from '../engine/registry/errors.js';
import type { PublishRequest } from '../engine/registry/publish.js';
import { formatQuery, type TagQuery } from '../engine/registry/query.js';
import type { QueryOptions, ResolveSpec } from '../engine/registry/store.js';
import { redactText } from '../engine/redact.js';
import { ArtifactCache } from './cache.js';
import { artifactOf, tokenOf, type ChangeListener, type RegistryWriter, type WatchHandle, type WatchMode, type WatchOptions } from './reader.js';

export interface RegistryClientOptions {
  readonly url: string;
  /** Bearer token for publish/alias/metrics; default process.env.AIRMAIL_ADMIN_TOKEN. */
  readonly token?: string;
  readonly cacheDir?: string;
  /** Per-request timeout for ordinary calls, ms (default 30 s). */
  readonly timeoutMs?: number;
  readonly connections?: number;
}

type Method = 'GET' | 'POST' | 'PUT';

export function specParams(spec: ResolveSpec): URLSearchParams {
  const p = new URLSearchParams();
  if ('query' in spec) {
    p.set('q', formatQuery(spec.query));
    if (spec.version !== undefined) p.set('version', String(spec.version));
  } else {
    p.set('name', spec.name);
    if ('alias' in spec) p.set('alias', spec.alias); else p.set('version', String(spec.version));
  }
  return p;
}

export class RegistryClient implements RegistryWriter {
  readonly location: string;
  readonly cache: ArtifactCache;
  private readonly pool: Pool;
  private readonly base: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: RegistryClientOptions) {
    const url = new URL(opts.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RegistryError('QUERY_INVALID', `registry URL must be http(s), not ${url.protocol}`);
    // Shown in messages (REGISTRY_UNAVAILABLE reasons reach clients and logs): without user info or query.
    this.location = redactText(url.href);
    this.base = url.pathname.replace(/\/$/, '');
    this.pool = new Pool(url.origin, { connections: opts.connections ?? 8 });
    this.cache = new ArtifactCache(opts.cacheDir);
    this.token = opts.token ?? process.env.AIRMAIL_ADMIN_TOKEN;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  private async call(method: Method, path: string, opts: { body?: string | FormData; json?: boolean; timeoutMs?: number; signal?: AbortSignal; admin?: boolean; accept?: string } = {}): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = {};
    if (opts.accept) headers.accept = opts.accept;
    if (opts.json) headers['content-type'] = 'application/json';
    if (opts.admin && this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({
        method, path: this.base + path, headers, body: opts.body ?? null,
        headersTimeout: opts.timeoutMs ?? this.timeoutMs, bodyTimeout: opts.timeoutMs ?? this.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError' || opts.signal?.aborted) throw err;
      throw new RegistryError('REGISTRY_UNAVAILABLE', `registry ${this.location} unreachable: ${(err as Error).message}`, { cause: err });
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text().catch(() => '');
      // { error: true, code, reason, details? }; older registries sent { error: { code, message, details? } }.
      type Wire = { error?: unknown; code?: unknown; reason?: unknown; message?: unknown; details?: unknown };
      let body: Wire = {};
      try { body = JSON.parse(text) as Wire; } catch { /* not JSON */ }
      const wire: Wire = body.error && typeof body.error === 'object' ? (body.error as Wire) : body;
      const code = wire.code;
      const said = typeof wire.reason === 'string' ? wire.reason : wire.message;
      const message = typeof said === 'string' ? said : `HTTP ${res.statusCode} from ${method} ${path}: ${text.slice(0, 200)}`;
      const details = wire.details && typeof wire.details === 'object' ? { details: wire.details as Record<string, unknown> } : {};
      throw new RegistryError(isRegistryCode(code) ? code : 'REGISTRY_UNAVAILABLE', message, details);
    }
    return res;
  }

  private async json<T>(method: Method, path: string, opts: Parameters<RegistryClient['call']>[2] = {}): Promise<T> {
    const res = await this.call(method, path, opts);
    return (await res.body.json()) as T;
  }

  // ---------------------------------------------------------------- reads

  async query(q: TagQuery | string, opts: QueryOptions = {}): Promise<EnvelopeSummary[]> {
    const p = new URLSearchParams({ q: formatQuery(q) });
    if (opts.limit !== undefined) p.set('limit', String(opts.limit));
    if (opts.offset !== undefined) p.set('offset', String(opts.offset));
    return (await this.json<{ envelopes: EnvelopeSummary[] }>('GET', `/envelopes?${p}`)).envelopes;
  }

  versions(name: string): Promise<{ name: string; versions: EnvelopeSummary[]; aliases: Record<string, number> }> {
    return this.json('GET', `/envelopes/${encodeURIComponent(name)}`);
  }

  get(name: string, version: number | string): Promise<Envelope> {
    return this.json('GET', `/envelopes/${encodeURIComponent(name)}/${encodeURIComponent(String(version))}`);
  }

  resolve(spec: ResolveSpec): Promise<Envelope> {
    return this.json('GET', `/resolve?${specParams(spec)}`);
  }

  async download(ref: Pick<Envelope, 'function'> | ArtifactRef): Promise<string> {
    const { sha256 } = artifactOf(ref);
    const hit = await this.cache.lookup(sha256);
    if (hit) return hit;
    const res = await this.call('GET', `/artifacts/${sha256}`);
    const served = res.headers['x-airmail-sha256'];
    if (served !== undefined && served !== sha256) {
      await res.body.dump();
      throw new RegistryError('ARTIFACT_CORRUPT', `registry served artifact ${String(served)} for ${sha256}`);
    }
    return this.cache.put(sha256, res.body);
  }

  async readArtifact(ref: Pick<Envelope, 'function'> | ArtifactRef): Promise<Uint8Array> {
    return readFile(await this.download(ref));
  }

  // ---------------------------------------------------------------- writes

  async publish(req: PublishRequest): Promise<Envelope> {
    const form = new FormData();
    const { artifact, sample, metrics, ...manifest } = req;
    form.set('manifest', JSON.stringify(manifest));
    form.set('artifact', new Blob([artifact]), req.filename ?? 'artifact');
    if (sample instanceof Uint8Array) form.set('sample', new Blob([sample]), 'sample');
    else if (sample !== undefined) form.set('sample', new Blob([JSON.stringify(sample)]), 'sample.json');
    if (metrics !== undefined) form.set('metrics', JSON.stringify(metrics));
    return this.json('POST', '/envelopes', { body: form, admin: true, timeoutMs: Math.max(this.timeoutMs, 120_000) });
  }

  addMetrics(name: string, version: number, metrics: unknown): Promise<Envelope> {
    return this.json('POST', `/envelopes/${encodeURIComponent(name)}/${version}/metrics`, { body: JSON.stringify(metrics), json: true, admin: true });
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    await this.json('PUT', `/aliases/${encodeURIComponent(name)}/${encodeURIComponent(alias)}`, { body: JSON.stringify({ version }), json: true, admin: true });
  }

  // ---------------------------------------------------------------- watch

  watch(spec: ResolveSpec, onChange: ChangeListener, opts: WatchOptions = {}): WatchHandle {
    const ac = new AbortController();
    const pollMs = opts.pollMs ?? 1000;
    const waitMs = opts.waitMs ?? 25_000;
    let token: string | undefined = opts.since === undefined ? undefined : tokenOf(opts.since);
    let mode: WatchMode = opts.mode ?? 'sse';
    const stopped = (): boolean => ac.signal.aborted;
    const abort = (): void => ac.abort();
    opts.signal?.addEventListener('abort', abort, { once: true });
    // Each wait takes its abort listener off again when it ends: a watch waits once per retry or
    // poll for as long as the engine runs, and a listener left per wait is a leak.
    const sleep = (ms: number): Promise<void> => new Promise((r) => {
      const wake = (): void => { clearTimeout(t); ac.signal.removeEventListener('abort', wake); r(); };
      const t = setTimeout(wake, ms);
      ac.signal.addEventListener('abort', wake, { once: true });
    });
    const report = (next: string, env: Envelope | null): void => {
      const first = token === undefined;
      const changed = next !== token;
      token = next;
      if (changed && !first) onChange(env);
    };
    const loop = async (): Promise<void> => {
      while (!stopped()) {
        try {
          if (mode === 'sse') {
            await this.events(spec, token, ac.signal, waitMs, (r) => report(r.token, r.envelope));
            await sleep(50); // the server ended the stream: reconnect, from the last token
          } else if (mode === 'long-poll') {
            const p = specParams(spec);
            if (token !== undefined) p.set('since', token);
            p.set('timeout', String(token === undefined ? 0 : waitMs));
            const r = await this.json<{ token: string; changed: boolean; envelope: Envelope | null }>('GET', `/watch?${p}`, { timeoutMs: waitMs + 10_000, signal: ac.signal });
            report(r.token, r.envelope);
          } else {
            const env = await this.resolve(spec).catch((err: unknown) => {
              if ((err as RegistryError).code === 'ENVELOPE_NOT_FOUND') return null;
              throw err;
            });
            report(tokenOf(env), env);
            await sleep(pollMs);
          }
        } catch (err) {
          if (stopped()) break;
          const code = (err as RegistryError).code;
          if (mode !== 'poll' && code === 'NOT_FOUND') { mode = mode === 'sse' ? 'long-poll' : 'poll'; continue; }
          opts.onError?.(err as Error);
          await sleep(pollMs);
        }
      }
    };
    const closed = loop().finally(() => opts.signal?.removeEventListener('abort', abort));
    return {
      get mode() { return mode; },
      close: () => ac.abort(),
      closed,
    };
  }

  /** One /watch/events connection: `onChange` per `change` event, until the server ends it. */
  private async events(spec: ResolveSpec, since: string | undefined, signal: AbortSignal, idleMs: number, onChange: (r: { token: string; envelope: Envelope | null }) => void): Promise<void> {
    const p = specParams(spec);
    if (since !== undefined) p.set('since', since);
    const res = await this.call('GET', `/watch/events?${p}`, { accept: 'text/event-stream', timeoutMs: idleMs + 30_000, signal });
    if (!String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      await res.body.dump();
      throw new RegistryError('NOT_FOUND', 'the registry does not stream /watch/events');
    }
    let buf = '';
    for await (const chunk of res.body) {
      buf += (chunk as Buffer).toString('utf8');
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (event === 'change' && data.length > 0) onChange(JSON.parse(data.join('\n')) as { token: string; envelope: Envelope | null });
      }
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
