/**
 * The thin registry: a Hono app over a RegistryStore.
 *
 *   POST /envelopes                       publish (admin). multipart/form-data: `artifact` (file),
 *                                         `sample` (file, optional), `metrics` (file or JSON text),
 *                                         `manifest` (JSON: flavor, name, description, tags, inputs,
 *                                         outputs, context, featureSource, sha256, sampleFormat) and/or
 *                                         flat fields flavor, name, description, sha256, tag (k=v, repeated).
 *                                         Or application/json: the manifest plus `artifact` (base64),
 *                                         `sample` (base64, or an array of row objects), `metrics` (object).
 *                                         → 201 Envelope
 *   GET  /envelopes?q=&limit=&offset=     tag query, newest publish first → { envelopes: EnvelopeSummary[] }
 *   GET  /envelopes/:name                 → { name, versions: EnvelopeSummary[] (newest first), aliases }
 *   GET  /envelopes/:name/:version        a version number or an alias → Envelope
 *   POST /envelopes/:name/:version/metrics  (admin) JSON metrics object, new names only → Envelope
 *   PUT  /aliases/:name/:alias            (admin) { version } → { name, alias, version }
 *   GET  /aliases/:name                   → { [alias]: version }
 *   GET  /artifacts/:sha256               the bytes (verified before sending), header x-airmail-sha256
 *   GET  /resolve?q=[&version=] | ?name=&version= | ?name=&alias=   → Envelope
 *   GET  /watch?<resolve params>&since=TOKEN&timeout=MS   long poll → { token, changed, envelope|null }
 *   GET  /watch/events?<resolve params>&since=TOKEN       server-sent events: `change` with { token, envelope|null }
 *                                         whenever the answer differs from the last one sent (or from since)
 *   GET  /healthz                         → { ok, envelopes, revision }
 *
 * Errors: { error: true, code, reason, details? } (the engine's shape) with the code's HTTP status. Admin routes need
 * `Authorization: Bearer $AIRMAIL_ADMIN_TOKEN` when a token is configured (compared in constant time), or
 * a publisher's own token from AIRMAIL_PUBLISHER_TOKENS (publishers.ts): a publish with one records
 * `published_by: NAME` in the envelope's index.
 */
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import type { ColumnSpec, ContextSpec, Envelope, FeatureSource, Flavor } from './envelope.js';
import { asRegistryError, RegistryError, toRegistryWire } from './errors.js';
import { parsePublisherTokens, PUBLISHED_BY, publisherOf, tokenDigest, type PublisherToken } from './publishers.js';
import { parseOutputList, prepareEnvelope, type PublishRequest } from './publish.js';
import type { SampleFormat } from './stats.js';
import { closest } from '../config/validators.js';
import type { RegistryStore, ResolveSpec } from './store.js';

export interface RegistryAppOptions {
  /** Bearer token for admin routes; default process.env.AIRMAIL_ADMIN_TOKEN. Empty: no auth. */
  readonly adminToken?: string;
  /** Named publisher tokens (`alice:TOKEN,bob:TOKEN`); default process.env.AIRMAIL_PUBLISHER_TOKENS. A publish with one is tagged published_by=NAME. */
  readonly publisherTokens?: string;
  /** Largest publish body, bytes (default 512 MiB). */
  readonly maxBodyBytes?: number;
  /** Largest body of the small JSON admin routes (added metrics, aliases), bytes (default 1 MiB). */
  readonly maxJsonBodyBytes?: number;
  /** Longest long-poll wait, ms (default 60 s). */
  readonly maxWatchMs?: number;
  /** Comment line sent on idle event streams, ms (default 15 s). */
  readonly keepAliveMs?: number;
  /** Time limit of a publish's model check, ms (default: AIRMAIL_MODEL_CHECK_MS or 20 s). */
  readonly checkTimeoutMs?: number;
  /** Aborted when the service stops: open long polls answer at once and event streams end, so the server can close. */
  readonly signal?: AbortSignal;
}

interface Manifest {
  flavor?: Flavor; name?: string; description?: string; tags?: Record<string, string>;
  inputs?: ColumnSpec[]; outputs?: ColumnSpec[] | string; context?: ContextSpec; featureSource?: FeatureSource;
  sha256?: string; sampleFormat?: SampleFormat; filename?: string;
}

/** The publisher a request authenticated as (its AIRMAIL_PUBLISHER_TOKENS name); absent for the shared admin token. */
const publisherOfRequest = new WeakMap<Request, string>();

export function adminAuth(token: string | undefined, publishers: readonly PublisherToken[] = []): MiddlewareHandler {
  // Trimmed as the engine's: a token from a secret file often ends in a newline, which no header can carry.
  const want = token?.trim() ? tokenDigest(token.trim()) : undefined;
  return async (c, next) => {
    if (want || publishers.length) {
      const m = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
      const given = tokenDigest(m ? m[1]!.trim() : '');
      const publisher = publisherOf(publishers, given);
      const admin = want ? timingSafeEqual(given, want) : false;
      if (!admin && publisher === undefined) throw new RegistryError('UNAUTHORIZED', `this route needs Authorization: Bearer <${want ? 'AIRMAIL_ADMIN_TOKEN' : ''}${want && publishers.length ? ' or ' : ''}${publishers.length ? "a publisher's token from AIRMAIL_PUBLISHER_TOKENS" : ''}>`);
      if (publisher !== undefined) publisherOfRequest.set(c.req.raw, publisher);
    }
    await next();
  };
}

function parseJson(text: string, what: string): unknown {
  try { return JSON.parse(text); } catch (err) { throw new RegistryError('BODY_UNPARSABLE', `${what} is not valid JSON: ${(err as Error).message}`); }
}

function fromBase64(v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string') throw new RegistryError('ENVELOPE_INVALID', `${what} must be a base64 string`);
  // Buffer.from skips what is not base64 ("!!!" decodes to nothing): that would be refused as an empty or corrupt file.
  const text = v.replace(/\s+/g, '');
  const bad = /[^A-Za-z0-9+/=_-]|=[^=]|={3}/.exec(text);
  if (bad) throw new RegistryError('ENVELOPE_INVALID', `${what} is not base64: ${JSON.stringify(bad[0][0])} at position ${bad.index} (send the file's bytes base64-encoded, or publish with multipart/form-data)`);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

const MANIFEST_FIELDS = ['flavor', 'name', 'description', 'tags', 'inputs', 'outputs', 'context', 'featureSource', 'sha256', 'sampleFormat', 'filename', 'sample', 'metrics'];
const FORM_FIELDS = ['artifact', 'sample', 'metrics', 'manifest', 'flavor', 'name', 'description', 'sha256', 'sampleFormat', 'outputs', 'tag'];

/**
 * A field the publish does not read is refused, not dropped: a misspelt featureSource or a flat
 * `inputs` form field would otherwise publish a version without it, and a version is never rewritten.
 */
function refuseUnknown(keys: Iterable<string>, known: readonly string[], where: string, manifestOnly = false): void {
  const problems: string[] = [];
  for (const k of keys) {
    if (known.includes(k)) continue;
    const near = closest(k, manifestOnly ? [...known, ...MANIFEST_FIELDS] : known);
    if (manifestOnly && near && MANIFEST_FIELDS.includes(near) && !known.includes(near)) {
      problems.push(`form field ${JSON.stringify(k)} is read only from the manifest: send -F 'manifest={"${near}": ...}'`);
    } else problems.push(`${where} ${JSON.stringify(k)} is not a publish field${near ? ` (did you mean ${near}?)` : ''}; the fields are ${known.join(', ')}`);
  }
  if (problems.length) throw new RegistryError('ENVELOPE_INVALID', `nothing was published: ${problems.join('; ')}`, { details: { problems } });
}

async function publishRequestOf(c: Context): Promise<PublishRequest> {
  const type = c.req.header('content-type') ?? '';
  if (type.startsWith('application/json')) {
    const body = parseJson(await c.req.text(), 'the body') as Manifest & { artifact?: unknown; sample?: unknown; metrics?: unknown };
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RegistryError('BODY_UNPARSABLE', 'the body must be a JSON object');
    refuseUnknown(Object.keys(body), ['artifact', ...MANIFEST_FIELDS], 'key');
    const sample = body.sample === undefined ? undefined : Array.isArray(body.sample) ? (body.sample as Record<string, unknown>[]) : fromBase64(body.sample, 'sample');
    return { ...body, ...outputsOf(body.outputs), artifact: fromBase64(body.artifact, 'artifact'), ...(sample ? { sample } : {}) } as PublishRequest;
  }
  if (!type.startsWith('multipart/form-data')) throw new RegistryError('UNSUPPORTED_MEDIA_TYPE', 'publish with multipart/form-data or application/json');
  const form = await c.req.parseBody({ all: true });
  refuseUnknown(Object.keys(form), FORM_FIELDS, 'form field', true);
  const one = (k: string): string | File | undefined => { const v = form[k]; return Array.isArray(v) ? v[0] : v; };
  const text = async (k: string): Promise<string | undefined> => { const v = one(k); return v === undefined ? undefined : typeof v === 'string' ? v : v.text(); };
  const manifestText = await text('manifest');
  const m: Manifest = manifestText ? (parseJson(manifestText, 'manifest') as Manifest) : {};
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new RegistryError('ENVELOPE_INVALID', 'manifest must be a JSON object');
  refuseUnknown(Object.keys(m), MANIFEST_FIELDS, 'manifest key');
  for (const k of ['flavor', 'name', 'description', 'sha256', 'sampleFormat', 'outputs'] as const) { const v = await text(k); if (v !== undefined) (m as Record<string, unknown>)[k] = v; }
  const tagFields = form.tag === undefined ? [] : Array.isArray(form.tag) ? form.tag : [form.tag];
  // Gathered in one object (not copied per field): a form of many tag fields is then refused by its count (limits.ts).
  const tags: Record<string, string> = { ...m.tags };
  for (const t of tagFields) {
    const s = typeof t === 'string' ? t : await t.text();
    const i = s.indexOf('=');
    if (i <= 0) throw new RegistryError('ENVELOPE_INVALID', `tag ${JSON.stringify(s)} must be key=value`);
    tags[s.slice(0, i)] = s.slice(i + 1);
  }
  if (tagFields.length) m.tags = tags;
  const artifact = one('artifact');
  if (!(artifact instanceof File)) throw new RegistryError('ENVELOPE_INVALID', 'multipart publish needs a file field "artifact"');
  const sample = one('sample');
  const metricsText = await text('metrics');
  return {
    ...m,
    ...outputsOf(m.outputs),
    artifact: new Uint8Array(await artifact.arrayBuffer()),
    filename: m.filename ?? artifact.name,
    ...(sample instanceof File ? { sample: new Uint8Array(await sample.arrayBuffer()) } : typeof sample === 'string' ? { sample: new TextEncoder().encode(sample) } : {}),
    ...(metricsText !== undefined ? { metrics: parseJson(metricsText, 'metrics') } : {}),
  } as PublishRequest;
}

const OUTPUT_TYPES = ['float32', 'float64', 'int32', 'int64', 'bool', 'string'] as const;

/** "outputs" as the CLI writes it ("psale=probabilities[1]"), or as column specs ([{name, type, output?, column?}]). */
function outputsOf(v: unknown): { outputs?: ColumnSpec[] } {
  if (v === undefined) return {};
  if (typeof v === 'string') return { outputs: parseOutputList(v, OUTPUT_TYPES) };
  const ok = (o: Partial<ColumnSpec> | null): boolean => !!o && typeof o === 'object' && typeof o.name === 'string' && (o.output === undefined || typeof o.output === 'string') && (o.column === undefined || (Number.isInteger(o.column) && o.column >= 0));
  if (!Array.isArray(v) || !v.every(ok)) {
    throw new RegistryError('ENVELOPE_INVALID', 'outputs must be a string ("psale=probabilities[1]" or "psale:float32") or a list of {name, type, output?, column?}');
  }
  return { outputs: (v as ColumnSpec[]).map((o) => ({ ...o, type: o.type ?? 'float32' })) };
}

/** Reads a resolve spec from URL parameters. */
export function specFromParams(p: URLSearchParams): ResolveSpec {
  const name = p.get('name');
  const alias = p.get('alias');
  const q = p.get('q');
  const v = p.get('version');
  const version = v === null ? undefined : Number(v);
  if (version !== undefined && (!Number.isInteger(version) || version < 1)) throw new RegistryError('QUERY_INVALID', `version ${JSON.stringify(v)} is not a positive integer`);
  if (alias !== null) {
    if (!name) throw new RegistryError('QUERY_INVALID', 'alias needs name');
    return { name, alias };
  }
  if (q !== null) return version === undefined ? { query: q } : { query: q, version };
  if (name !== null) return version === undefined ? { query: { name } } : { name, version };
  throw new RegistryError('QUERY_INVALID', 'give q (tag query), name and version, or name and alias');
}

/** The token a watcher compares: which envelope the spec resolves to now. */
export function answerToken(store: RegistryStore, spec: ResolveSpec): string {
  const s = store.pick(spec);
  return s ? `${s.name}@${s.version}` : '-';
}

function intParam(v: string | undefined, what: string, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new RegistryError('QUERY_INVALID', `${what} must be a non-negative integer`);
  return Math.min(n, max);
}

export function createRegistryApp(store: RegistryStore, opts: RegistryAppOptions = {}): Hono {
  const app = new Hono();
  const admin = adminAuth(opts.adminToken ?? process.env.AIRMAIL_ADMIN_TOKEN, parsePublisherTokens(opts.publisherTokens ?? process.env.AIRMAIL_PUBLISHER_TOKENS));
  const maxWatch = opts.maxWatchMs ?? 60_000;
  const limitOf = (maxSize: number): MiddlewareHandler => bodyLimit({
    maxSize,
    onError: () => { throw new RegistryError('BODY_TOO_LARGE', `the body exceeds ${maxSize} bytes`); },
  });
  const limit = limitOf(opts.maxBodyBytes ?? 512 * 1024 * 1024);
  // Metrics and aliases are small JSON objects: read whole into memory, so bounded as the publish is.
  const jsonLimit = limitOf(opts.maxJsonBodyBytes ?? 1024 * 1024);

  app.onError((err, c) => {
    const e = asRegistryError(err);
    return c.json(toRegistryWire(e), e.status as 400);
  });
  app.notFound((c) => c.json(toRegistryWire(new RegistryError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)), 404));

  app.get('/healthz', (c) => c.json({ ok: true, envelopes: store.size, revision: store.revision }));

  app.post('/envelopes', admin, limit, async (c) => {
    const { draft, bytes } = await prepareEnvelope(await publishRequestOf(c), opts.checkTimeoutMs !== undefined ? { checkTimeoutMs: opts.checkTimeoutMs } : {});
    // Who published, as their token says (prepareEnvelope refuses the tag in the request itself).
    const publisher = publisherOfRequest.get(c.req.raw);
    return c.json(await store.publish(publisher === undefined ? draft : { ...draft, index: { ...draft.index, [PUBLISHED_BY]: publisher } }, bytes), 201);
  });

  app.get('/envelopes', (c) => {
    const q = c.req.query('q') ?? '';
    const envelopes = store.query(q, { limit: intParam(c.req.query('limit'), 'limit', 100, 10_000), offset: intParam(c.req.query('offset'), 'offset', 0, Number.MAX_SAFE_INTEGER) });
    return c.json({ envelopes });
  });

  app.get('/envelopes/:name', (c) => {
    const name = c.req.param('name');
    const versions = store.versions(name);
    if (!versions.length) throw new RegistryError('ENVELOPE_NOT_FOUND', `no envelope named ${name}`);
    return c.json({ name, versions, aliases: store.aliases(name) });
  });

  app.get('/envelopes/:name/:version', async (c) => {
    const name = c.req.param('name');
    const v = c.req.param('version');
    return c.json(await store.resolve(/^[0-9]+$/.test(v) ? { name, version: Number(v) } : { name, alias: v }));
  });

  app.post('/envelopes/:name/:version/metrics', admin, jsonLimit, async (c) => {
    const metrics = parseJson(await c.req.text(), 'the metrics body');
    const v = c.req.param('version');
    if (!/^[1-9][0-9]*$/.test(v)) throw new RegistryError('ENVELOPE_INVALID', `metrics are added to a version number (1, 2, …), not ${JSON.stringify(v)}`);
    return c.json(await store.addMetrics(c.req.param('name'), Number(v), metrics));
  });

  app.put('/aliases/:name/:alias', admin, jsonLimit, async (c) => {
    const body = parseJson(await c.req.text(), 'the body') as { version?: unknown } | null;
    const version = body?.version;
    if (typeof version !== 'number' || !Number.isInteger(version)) throw new RegistryError('ENVELOPE_INVALID', 'the body must be {"version": <integer>}');
    const name = c.req.param('name');
    const alias = c.req.param('alias');
    await store.setAlias(name, alias, version);
    return c.json({ name, alias, version });
  });

  app.get('/aliases/:name', (c) => c.json(store.aliases(c.req.param('name'))));

  app.get('/artifacts/:sha256', async (c) => {
    const sha = c.req.param('sha256');
    const bytes = await store.readArtifact(sha);
    return c.body(new Uint8Array(bytes), 200, { 'content-type': 'application/octet-stream', 'x-airmail-sha256': sha, etag: `"${sha}"`, 'cache-control': 'public, max-age=31536000, immutable' });
  });

  app.get('/resolve', async (c) => c.json(await store.resolve(specFromParams(new URL(c.req.url).searchParams))));

  app.get('/watch', async (c) => {
    const params = new URL(c.req.url).searchParams;
    const spec = specFromParams(params);
    const since = params.get('since');
    const timeout = intParam(params.get('timeout') ?? undefined, 'timeout', 25_000, maxWatch);
    let token = answerToken(store, spec);
    if (token === since) {
      token = await new Promise<string>((resolve) => {
        const signal = c.req.raw.signal;
        const done = (t: string): void => { clearTimeout(timer); off(); signal.removeEventListener('abort', onAbort); opts.signal?.removeEventListener('abort', onAbort); resolve(t); };
        const onAbort = (): void => done(token);
        const off = store.onChange(() => { const t = answerToken(store, spec); if (t !== since) done(t); });
        const timer = setTimeout(() => done(token), timeout);
        signal.addEventListener('abort', onAbort);
        if (opts.signal?.aborted) onAbort(); else opts.signal?.addEventListener('abort', onAbort);
      });
    }
    const envelope: Envelope | null = token === since || token === '-' ? null : await store.resolve(spec).catch(() => null);
    if (envelope) token = `${envelope.name}@${envelope.version}`;
    return c.json({ token, changed: token !== since, envelope });
  });

  app.get('/watch/events', (c) => {
    if (opts.signal?.aborted) throw new RegistryError('REGISTRY_UNAVAILABLE', 'the registry is stopping');
    const params = new URL(c.req.url).searchParams;
    const spec = specFromParams(params);
    let last = params.get('since');
    const signal = c.req.raw.signal;
    return streamSSE(c, async (stream) => {
      let chain = Promise.resolve();
      const push = (): void => {
        chain = chain.then(async () => {
          const token = answerToken(store, spec);
          if (token === last || stream.aborted || stream.closed) return;
          last = token;
          const envelope = token === '-' ? null : await store.resolve(spec).catch(() => null);
          await stream.writeSSE({ event: 'change', data: JSON.stringify({ token, envelope }) });
        }).catch(() => undefined);
      };
      const off = store.onChange(push);
      const beat = setInterval(() => void stream.write(': keep-alive\n\n').catch(() => undefined), opts.keepAliveMs ?? 15_000);
      push();
      await new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        for (const s of [signal, opts.signal]) {
          if (s?.aborted) resolve(); else s?.addEventListener('abort', () => resolve(), { once: true });
        }
      });
      off();
      clearInterval(beat);
    });
  });

  return app;
}
