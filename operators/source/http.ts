/**
 * Candidates from an upstream HTTP service: GET `url` (with `{name}` filled
 * from `vars`, URL-encoded, and `{env:NAME}` / `{env:NAME|default}` expanded
 * from the environment when the config loads, in `headers` too; an unset
 * variable without a default is a load error), read the item ids from `column` of the rows it answers, like
 * Lookup reads a dataset. Every answer is cached (Redis when REDIS_URL is set,
 * else in process) for `ttl_ms` with jitter; concurrent misses for one URL
 * make one call; `stale_ms` serves the old answer while one refresh runs;
 * `stale_if_error_ms` keeps it as the answer when the upstream fails. Each
 * attempt has `timeout_ms`; failures are retried `retries` times with backoff,
 * then the step fails with SOURCE_FAILED and the response names it.
 *
 * ```yaml
 * - name: HttpSource
 *   parameters:
 *     url: http://inventory.internal:8091/inventory?warehouse={warehouse_id}
 *     vars: {warehouse_id: $client.warehouse_id}
 *     column: sku_id
 *     ttl_ms: 60000
 *     stale_ms: 30000
 *     timeout_ms: 200
 *     retries: 2
 *     max_bytes: 1048576   # a larger answer fails the step (default 16 MiB)
 * ```
 */
import type { CachePolicy, CheckEnv, Column, Dataset, JsonSchema, ParamProblem, SourceResult } from '../../engine/api.js';
import { defineOperator, expandEnv, gather, operatorError, unsetEnvMessage, unsetEnvNames } from '../../engine/api.js';
import { idsAt, pointer, WHERE_SCHEMA, whereRows, type WhereValue } from '../util.js';

/** Parameters every remote source shares: where ids come from in the answer, and how it is cached. */
export interface RemoteSourceParams {
  readonly vars?: Readonly<Record<string, string | number | boolean | null>>;
  /** Column of the answer holding item ids; default the item type, or `value` for a list of scalars. */
  readonly column?: string;
  readonly where?: Readonly<Record<string, WhereValue>>;
  readonly columns?: readonly string[];
  readonly timeout_ms?: number;
  readonly retries?: number;
  readonly backoff_ms?: number;
  readonly ttl_ms?: number;
  readonly jitter?: number;
  readonly stale_ms?: number;
  readonly stale_if_error_ms?: number;
}

export const REMOTE_SOURCE_PROPERTIES: Readonly<Record<string, JsonSchema>> = {
  // No null: a `{var}` without a value fails the request, so an input used here must not take null
  // (the input's schema is derived from this one: `{"w": null}` is a 422 naming it, not SOURCE_FAILED).
  vars: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
  column: { type: 'string', minLength: 1 },
  where: WHERE_SCHEMA,
  columns: { type: 'array', items: { type: 'string', minLength: 1 } },
  timeout_ms: { type: 'integer', minimum: 1, maximum: 60_000 },
  retries: { type: 'integer', minimum: 0, maximum: 10 },
  backoff_ms: { type: 'integer', minimum: 0, maximum: 10_000 },
  ttl_ms: { type: 'integer', minimum: 1 },
  jitter: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
  stale_ms: { type: 'integer', minimum: 0 },
  stale_if_error_ms: { type: 'integer', minimum: 0 },
};

export const DEFAULT_TTL_MS = 60_000;

export function cachePolicy(p: RemoteSourceParams): CachePolicy {
  return {
    ttlMs: p.ttl_ms ?? DEFAULT_TTL_MS,
    ...(p.jitter !== undefined ? { jitter: p.jitter } : {}),
    ...(p.stale_ms !== undefined ? { staleMs: p.stale_ms } : {}),
    ...(p.stale_if_error_ms !== undefined ? { staleIfErrorMs: p.stale_if_error_ms } : {}),
  };
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** `{name}` placeholders of a template that `vars` does not define. */
export function templateProblems(template: string, vars: RemoteSourceParams['vars'], at: string): ParamProblem[] {
  const out: ParamProblem[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!vars || !Object.hasOwn(vars, m[1]!)) out.push({ path: at, message: `'{${m[1]}}' has no value in vars`, code: 'BAD_PARAMETER' });
  }
  return out;
}

/** Fill `{name}` from vars (request-time values), each passed through `encode`. */
export function fillTemplate(template: string, vars: RemoteSourceParams['vars'], encode: (s: string) => string): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    const v = vars?.[name];
    if (v === undefined || v === null) throw operatorError('SOURCE_FAILED', `'{${name}}' has no value for this request`);
    return encode(String(v));
  });
}

export { expandEnv };

/** The stats and metrics name of an HttpSource: one per configured URL, whatever the request's vars. */
export function sourceLabel(template: string): string {
  return `HttpSource ${template.split(/[?#]/)[0]!.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@')}`;
}

/**
 * `{env:NAME}` left in an expanded text: NAME is unset and has no default. Reported at load, naming
 * the variable (never a value): used as it stands, the literal `{env:NAME}` reached the upstream.
 */
export function unsetEnvProblems(expanded: string, at: string): ParamProblem[] {
  return unsetEnvNames(expanded).map((name) => ({ path: at, message: unsetEnvMessage(name), code: 'BAD_PARAMETER' }));
}

/** The item ids (and extra columns) of a fetched table, as Lookup reads a dataset. */
export function sourceFromTable(ds: Dataset, p: RemoteSourceParams, itemType: string): SourceResult {
  if (ds.length === 0) return { ids: new Int32Array(0) };
  const idName = p.column ?? (ds.has(itemType) || !ds.has('value') ? itemType : 'value');
  const idCol = ds.column(idName);
  // Booleans are stored as 1 and 0: [true, false] would be items 1 and 0.
  if (ds.holdsBooleans?.(idName)) throw operatorError('SOURCE_FAILED', `the answer's '${idName}' holds true/false, which are no item ids`);
  // The common case (every row, int ids, nothing else): the shared column itself, no copy; nothing writes to source ids.
  if (p.where === undefined && (!p.columns || p.columns.length === 0) && idCol instanceof Int32Array) return { ids: idCol };
  const rows = whereRows(ds, p.where);
  const ids = idsAt(idCol, rows);
  if (!p.columns || p.columns.length === 0) return { ids };
  const kept = ids.length === rows.length ? rows : rows.filter((r) => idsAt(idCol, Int32Array.of(r)).length === 1);
  const columns: Record<string, Column> = {};
  for (const c of p.columns) columns[c] = gather(ds.column(c), kept);
  return { ids, columns };
}

export interface HttpSourceParams extends RemoteSourceParams {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly format?: 'json' | 'arrow';
  /** Dotted path of the JSON field holding the rows. */
  readonly path?: string;
  /** The largest body accepted (as sent and decompressed); default 16 MiB. */
  readonly max_bytes?: number;
}

export const httpSource = defineOperator<HttpSourceParams>({
  kind: 'source',
  // Answers are cached for ttl_ms: candidates built from them may be reused that long.
  memoTtlMs: (p) => p.ttl_ms ?? DEFAULT_TTL_MS,
  name: 'HttpSource',
  // `columns:` are added to the frame: later steps and `return` may name them.
  writes: (p) => [...(p.columns ?? [])],
  connects: ['url', 'headers'],
  fixed: { url: 'the URL it fetches (a request value goes in `vars:`, written {name} in the URL)' },
  bounds: ['max_bytes'],
  summary: 'Item ids from an upstream HTTP service, cached with TTL, coalescing and stale-while-revalidate.',
  parameters: {
    type: 'object',
    properties: {
      url: { type: 'string', pattern: '^(https?://|\\{env:)' },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      format: { enum: ['json', 'arrow'] },
      path: { type: 'string', minLength: 1 },
      max_bytes: { type: 'integer', minimum: 1, maximum: 1024 * 1024 * 1024 },
      ...REMOTE_SOURCE_PROPERTIES,
    },
    required: ['url'],
    additionalProperties: false,
  },
  normalize(params: HttpSourceParams, _env: CheckEnv): HttpSourceParams {
    const headers = params.headers ? Object.fromEntries(Object.entries(params.headers).map(([k, v]) => [k, expandEnv(v)])) : undefined;
    return { ...params, url: expandEnv(params.url), ...(headers ? { headers } : {}) };
  },
  check(params): readonly ParamProblem[] {
    const unset = unsetEnvProblems(params.url, '/url');
    for (const [k, v] of Object.entries(params.headers ?? {})) unset.push(...unsetEnvProblems(v, pointer('headers', k)));
    if (unset.length > 0) return unset;
    const problems = templateProblems(params.url, params.vars, '/url');
    try {
      const u = new URL(params.url.replace(PLACEHOLDER, 'x'));
      if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push({ path: '/url', message: `only http and https URLs are supported, not ${u.protocol}`, code: 'BAD_PARAMETER' });
    } catch {
      problems.push({ path: '/url', message: 'the url is not a URL (is an environment variable unset?); it is not shown, as it may hold an expanded {env:} value', code: 'BAD_PARAMETER' });
    }
    for (const k of Object.keys(params.vars ?? {})) {
      if (!params.url.includes(`{${k}}`)) problems.push({ path: pointer('vars', k), message: `var '${k}' is not used in the url`, code: 'BAD_PARAMETER' });
    }
    return problems;
  },
  async run(params, ctx): Promise<SourceResult> {
    const url = fillTemplate(params.url, params.vars, encodeURIComponent);
    const ds = await ctx.remote({
      request: {
        kind: 'http',
        url,
        ...(params.headers ? { headers: params.headers } : {}),
        ...(params.timeout_ms !== undefined ? { timeoutMs: params.timeout_ms } : {}),
        ...(params.retries !== undefined ? { retries: params.retries } : {}),
        ...(params.backoff_ms !== undefined ? { backoffMs: params.backoff_ms } : {}),
        ...(params.format ? { format: params.format } : {}),
        ...(params.path ? { path: params.path } : {}),
        ...(params.max_bytes !== undefined ? { maxBytes: params.max_bytes } : {}),
      },
      cache: cachePolicy(params),
      // The name metrics show: the configured URL with its `{var}` placeholders, not this request's
      // values (a var in the path would be a new series per client value), no query string, no user
      // info (either may hold an expanded {env:} secret). Reasons name the request's own URL.
      source: sourceLabel(params.url),
    });
    return sourceFromTable(ds, params, ctx.itemType);
  },
});
