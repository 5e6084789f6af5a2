/**
 * The HTTP surface (Hono). Routes parse, check and hand off to the Engine;
 * body limits and admin auth are middleware that run before any handler.
 */
import { dirname } from 'node:path';
import type { ServerResponse } from 'node:http';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AirmailError, asAirmailError, boundErrors, clip, PATH_CHARS, summarise, type Diagnostic, type ErrorLike } from '../errors.js';
import type { Engine, PipelineResponse } from '../engine.js';
import { debugStepsOf } from '../engine.js';
import { explainFallback } from '../fallback.js';
import { explainPlan } from '../config/plan.js';
import { publicPaths, type PublicPaths } from '../config/public-paths.js';
import { drained, inputsNotAnObject, isPlainObject, LINGER_BYTES, readBody, type BodyFormat } from './body.js';
import type { ValueSource } from '../config/validators.js';
import { tokenFingerprint, type AuditEntry, type AuditSink } from '../reliability/audit.js';
import { adminPutName, adminTokenOf, auditNoteOf, diagnosticsError, isAdminRoute, noteAudit, tokenOk } from './admin.js';
import { DutyLimit } from '../reliability/duty.js';
import { docsPage, openApi } from './openapi.js';
import { mountModelRoutes } from './models.js';
import { countBatches, mountBatchRoute } from './batch-route.js';
import { mountOperatorRoutes } from './operators.js';
import { mountObservability, traceOptions } from './ui.js';
import { ADHOC_LABEL, FIXED_LABELS, OTHER_LABEL, UNKNOWN_LABEL } from '../observe/index.js';
import { REQUEST_ID_HEADER, requestIdFrom } from '../observe/request-id.js';
import { DEADLINE_HEADER, deadlineOption, NOW_HEADER, nowOption } from './deadline.js';
import { debugAsked, debugOf, debugOption } from './debug-option.js';
import { clientGone, type ClientGone } from './client-gone.js';
import { ARM_HEADER, ARM_QUERY, describeExperiment, errorTarget, runExperiment, servedForcedArm, type ErrorTarget } from '../experiments.js';

export { DEADLINE_HEADER, deadlineOption, debugOf, debugOption };

declare module 'hono' {
  interface ContextVariableMap {
    /** The request's id (observe/request-id.ts), echoed in x-request-id and on its log lines. */
    requestId: string;
  }
}

export interface AppOptions {
  /** Maximum request body in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
  /** Bearer token for admin routes; unset disables them. */
  readonly adminToken?: string;
  readonly isReady?: () => boolean;
  /** While true, responses carry `Connection: close` so keep-alive clients move on during a drain. */
  readonly isDraining?: () => boolean;
  /** Admin routes live on another port: here they answer 404. */
  readonly adminElsewhere?: boolean;
  /** Receives one entry per admin request (applied, rejected or denied). */
  readonly audit?: AuditSink;
  /** The most requests one batch (POST /pipelines/{name}/batch) may hold (default 1,000). */
  readonly maxBatch?: number;
}

const RESERVED_QUERY = new Set(['debug']);

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * An error in the response shape of the README: items, error, reason, pipeline and version (null
 * when no loaded pipeline is in question), took_ms when the request's start is known, then the
 * stable code and what else the error says.
 */
export function errorBody(e: ErrorLike, extra: Partial<Pick<PipelineResponse, 'pipeline' | 'version' | 'took_ms'> & Pick<ErrorTarget, 'experiment'>> = {}, paths?: PublicPaths): Record<string, unknown> {
  const all = (e.details?.['errors'] as unknown[] | undefined) ?? (e.diagnostics?.length ? e.diagnostics : undefined);
  const { errors, truncated } = all ? boundErrors(paths ? all.map(paths.entry) : all) : { errors: undefined, truncated: 0 };
  return {
    items: [],
    error: true,
    reason: paths ? paths.text(e.message) : e.message,
    pipeline: extra.pipeline ?? null,
    version: extra.version ?? null,
    ...(extra.took_ms !== undefined ? { took_ms: extra.took_ms } : {}),
    code: e.code,
    ...(e.operator ? { operator: e.operator } : {}),
    ...(e.operatorCode ? { operator_code: e.operatorCode } : {}),
    ...(errors ? { errors } : {}),
    ...(truncated > 0 ? { errors_truncated: truncated } : {}),
    ...(extra.experiment ? { experiment: extra.experiment } : {}),
  };
}

/** Milliseconds since `t0`, as `took_ms` is written (three decimals). */
export const tookMs = (t0: number): number => Math.round((performance.now() - t0) * 1000) / 1000;

/** The run option that stops a run whose client has gone (client-gone.ts); none off the Node listener (app.request in tests). */
function goneOption(c: Context): { signal?: ClientGone } {
  const res = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  return res ? { signal: clientGone(res) } : {};
}

/** When each request reached the app (for took_ms in error bodies). */
const started = new WeakMap<Context, number>();

export function sendError(c: Context, err: unknown, extra: Partial<Pick<PipelineResponse, 'pipeline' | 'version'> & Pick<ErrorTarget, 'experiment'>> = {}, paths?: PublicPaths): Response {
  const e = asAirmailError(err);
  const status = e.status === 200 ? 500 : e.status;
  for (const [k, v] of Object.entries(retryHeaders(e))) c.header(k, v);
  const t0 = started.get(c);
  const body = errorBody(e, t0 === undefined ? extra : Object.assign({ took_ms: tookMs(t0) }, extra), paths);
  const steps = debugStepsOf(err);
  return c.json(steps ? Object.assign(body, { debug: { steps } }) : body, status as 400);
}

/** Retry-After (whole seconds, RFC 9110, at least 1) and Retry-After-Ms (the estimate) for OVERLOADED and NOT_READY. */
export function retryHeaders(e: ErrorLike): Record<string, string> {
  if (e.code !== 'OVERLOADED' && e.code !== 'NOT_READY') return {};
  const ms = typeof e.details?.['retryAfterMs'] === 'number' ? e.details['retryAfterMs'] : 100;
  return { 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))), 'Retry-After-Ms': String(ms) };
}

export function createApp(engine: Engine, opts: AppOptions = {}): Hono {
  // Not strict: a trailing slash names the same route (a GET of /health/ was a 405 that allowed GET).
  const app = new Hono({ strict: false });
  const limit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  // Files and texts in answers are relative to the configs directory, never the server's own paths.
  const paths = publicPaths(engine.store.dir);

  // Every request gets an id (its x-request-id when sane); the listener's gate (server.ts) has
  // already put it on the raw request's headers when it ran.
  app.use('*', async (c, next) => {
    const incoming = (c.env as { incoming?: { headers?: Record<string, string | string[] | undefined> } } | undefined)?.incoming;
    const id = requestIdFrom(incoming?.headers?.[REQUEST_ID_HEADER] ?? c.req.header(REQUEST_ID_HEADER));
    c.set('requestId', id);
    c.header(REQUEST_ID_HEADER, id);
    return next();
  });

  /** The metrics label of a request: a loaded pipeline it names, or a fixed label (never a caller's name). */
  const labelOf = (c: Context): string => {
    const path = c.req.path;
    if (path === '/execute') return ADHOC_LABEL;
    const m = /^\/pipelines\/([^/]+)/.exec(path);
    if (!m) return OTHER_LABEL;
    let name: string;
    try {
      name = decodeURIComponent(m[1]!);
    } catch {
      return UNKNOWN_LABEL;
    }
    return engine.snapshot.pipelines.has(name) || engine.snapshot.experiments?.has(name) ? name : UNKNOWN_LABEL;
  };
  /** An error answer: counted and logged (once: a run that failed was counted by the engine), then sent. */
  const answerError = (c: Context, err: unknown, extra: Partial<Pick<PipelineResponse, 'pipeline' | 'version'> & Pick<ErrorTarget, 'experiment'>> = {}): Response => {
    // A why or debug request's refusal is counted with the diagnostics, not the serving traffic.
    const kind = c.req.method === 'POST' && /^\/pipelines\/[^/]+\/why$/.test(c.req.path) ? 'why'
      : debugAsked(c.req.query('debug')) || debugAsked(c.req.header('x-airmail-debug')) ? 'debug' : undefined;
    engine.observe.rejected(labelOf(c), asAirmailError(err), { requestId: c.get('requestId'), traceparent: c.req.header('traceparent'), tracestate: c.req.header('tracestate'), httpRequest: c.req, kind });
    return sendError(c, err, extra, paths);
  };
  // Before the body limit, so that its 413 is counted as a batch too (http/batch-route.ts).
  countBatches(app, engine);

  if (opts.isDraining) {
    const draining = opts.isDraining;
    app.use('*', async (c, next) => {
      await next();
      if (draining()) c.header('Connection', 'close');
    });
  }
  const tooLarge = async (c: Context): Promise<Response> => {
    // A declared body up to LINGER_BYTES is read to its end and dropped first: answered at once, a
    // client still sending would meet a closed socket and see a reset, not the 413. Otherwise (far
    // larger, chunked and partly read, or waiting for 100 Continue) the rest is never read, and the
    // connection cannot carry another request, so say so (a client that reused it would see its
    // next request fail with 'other side closed').
    const declared = Number(c.req.header('content-length'));
    const incoming = (c.env as { incoming?: Parameters<typeof drained>[0] } | undefined)?.incoming;
    const linger = incoming !== undefined && c.req.header('transfer-encoding') === undefined && declared <= LINGER_BYTES && !/100-continue/i.test(c.req.header('expect') ?? '');
    if (!linger || !(await drained(incoming))) c.header('Connection', 'close');
    if (isAdminRoute(c.req.method, c.req.path)) {
      noteAudit(c, { action: `${c.req.method} ${c.req.path}` });
      audit(c, 413, 'denied', `the request body exceeds ${limit} bytes`);
    }
    // Refused before any route ran: name the loaded pipeline the path is about, as the route's own refusals (415, 422) do.
    const named = engine.snapshot.pipelines.get(labelOf(c));
    return answerError(c, new AirmailError('BODY_TOO_LARGE', `the request body exceeds ${limit} bytes`), named ? { pipeline: named.name, version: named.version } : {});
  };
  const streamedLimit = bodyLimit({ maxSize: limit, onError: tooLarge });
  app.use('*', async (c, next) => {
    started.set(c, performance.now());
    // A declared length is checked from the header alone. Hono's bodyLimit would first touch
    // c.req.raw.body, which turns the server's lightweight request into a full fetch Request
    // (with an AbortController) on every call; only a chunked body needs it to count bytes.
    const length = c.req.header('content-length');
    const chunked = c.req.header('transfer-encoding') !== undefined;
    if (!chunked) {
      if (length === undefined) return next();
      return Number(length) > limit ? tooLarge(c) : next();
    }
    return streamedLimit(c, next);
  });
  const audit = (c: Context, status: number, outcome: AuditEntry['outcome'], reason?: string): void => {
    if (!opts.audit) return;
    const presented = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim();
    const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
    const note = auditNoteOf(c);
    opts.audit({
      at: new Date().toISOString(),
      action: note.action ?? `${c.req.method} ${c.req.routePath}`,
      method: c.req.method,
      path: c.req.path,
      status,
      outcome,
      ...(incoming?.socket?.remoteAddress ? { remote: incoming.socket.remoteAddress } : {}),
      ...(presented ? { token: tokenFingerprint(presented) } : {}),
      ...note,
      ...(reason ? { reason } : {}),
    });
  };
  const admin = async (c: Context, next: () => Promise<void>): Promise<Response | void> => {
    if (opts.adminElsewhere) {
      audit(c, 404, 'denied', 'admin route sent to the public port');
      return answerError(c, new AirmailError('NOT_FOUND', `no route ${c.req.method} ${clip(c.req.path, PATH_CHARS)} on this port (admin routes are served on the admin port)`));
    }
    const adminToken = adminTokenOf(opts.adminToken);
    if (!adminToken) {
      audit(c, 401, 'denied', 'admin routes are disabled (no token is set)');
      return answerError(c, new AirmailError('UNAUTHORIZED', 'admin routes are disabled: start the server with AIRMAIL_ADMIN_TOKEN set and send it as a bearer token'));
    }
    if (!tokenOk(c.req.header('authorization'), adminToken)) {
      audit(c, 401, 'denied', 'missing or wrong bearer token');
      return answerError(c, new AirmailError('UNAUTHORIZED', 'admin routes need Authorization: Bearer <AIRMAIL_ADMIN_TOKEN>'));
    }
    try {
      await next();
    } catch (err) {
      const e = asAirmailError(err);
      audit(c, e.status, 'rejected', e.message);
      throw err;
    }
    audit(c, c.res.status, c.res.status < 400 ? 'applied' : 'rejected', c.error?.message);
  };

  // An error of a route under /pipelines/{name} (why, explain, ...) names that pipeline, as a run's errors do.
  app.onError((err, c) => {
    const label = labelOf(c);
    const p = FIXED_LABELS.has(label) ? undefined : engine.snapshot.pipelines.get(label);
    return answerError(c, err, p ? { pipeline: p.name, version: p.version } : {});
  });
  let allowed: ((path: string) => string[]) | undefined;
  app.notFound((c) => {
    // A path that exists for other methods: 405 with Allow, not 404. (Routes are all added by then.)
    allowed ??= allowedMethods(app, opts.adminElsewhere ? admin : undefined);
    const allow = allowed(c.req.path);
    if (allow.length === 0) return answerError(c, new AirmailError('NOT_FOUND', `no route ${c.req.method} ${clip(c.req.path, PATH_CHARS)}`));
    c.header('Allow', allow.join(', '));
    return answerError(c, new AirmailError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed on ${clip(c.req.path, PATH_CHARS)}; allowed: ${allow.join(', ')}`));
  });

  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', (c) => {
    // Ready = something to serve, a worker to run it on, and not draining.
    const workers = engine.runner.readyWorkers?.();
    const ready = (opts.isReady?.() ?? true) && engine.snapshot.pipelines.size > 0 && workers !== 0;
    return c.json({ ready, pipelines: engine.snapshot.pipelines.size, ...(workers !== undefined ? { workers } : {}) }, ready ? 200 : 503);
  });

  const describe = (name: string): Record<string, unknown> => {
    const x = engine.snapshot.experiments?.get(name);
    if (x) return { ...describeExperiment(x, paths.file(x.file)), last_rejection: ((r) => (r ? paths.record(r) : null))(engine.store.rejectionFor(x.file)) };
    const p = engine.pipeline(name);
    const st = engine.store.status(name);
    const rej = engine.store.rejectionFor(p.file);
    return {
      name,
      description: p.description ?? null,
      version: p.version,
      loaded_at: st?.loadedAt ?? null,
      file: paths.file(p.file),
      inputs: p.inputSchema,
      fallback: p.fallback ? { pipeline: p.fallback.pipeline, when: p.fallback.when, min_items: p.fallback.minItems, reserve_ms: p.fallback.reserveMs } : null,
      last_rejection: rej ? paths.record(rej) : null,
    };
  };

  app.get('/pipelines', (c) => {
    const snap = engine.snapshot;
    return c.json({
      pipelines: [...snap.pipelines.keys()].sort().map(describe),
      experiments: [...(snap.experiments?.keys() ?? [])].sort().map(describe),
      rejections: engine.store.allRejections().map(paths.record),
      reloads: engine.store.reloadHistory().slice(-20).map(paths.record),
    });
  });

  const execute = async (c: Context, name: string, inputs: unknown, source: ValueSource): Promise<Response> => {
    // An experiment is a name resolved in front of a run (engine/experiments.ts).
    const x = engine.snapshot.experiments?.get(name);
    if (x) {
      try {
        const forced = servedForcedArm(engine, x, c.req.queries(ARM_QUERY), c.req.header(ARM_HEADER), !debugAsked(c.req.query('debug')) && !debugAsked(c.req.header('x-airmail-debug')));
        return c.json(await runExperiment(engine, x, inputs as Record<string, unknown>, source, forced, { debug: debugOf(c), ...traceOptions(c), ...deadlineOption(c.req.header(DEADLINE_HEADER)), ...nowOption(c.req.header(NOW_HEADER)), ...goneOption(c) }), 200);
      } catch (err) {
        return answerError(c, err, errorTarget(err, x));
      }
    }
    const p = engine.pipeline(name);
    try {
      const debug = debugOf(c);
      const checked = engine.checkInputs(p, inputs, source);
      const res = await engine.run(p, checked, { debug, ...traceOptions(c), ...deadlineOption(c.req.header(DEADLINE_HEADER)), ...nowOption(c.req.header(NOW_HEADER)), ...goneOption(c) });
      return c.json(res, 200);
    } catch (err) {
      return answerError(c, err, { pipeline: p.name, version: p.version });
    }
  };

  // Every value of a name is kept: a name given twice is an error for a single-valued input (engine/inputs.ts).
  const queryInputs = (c: Context): Record<string, string[]> => {
    // A malformed escape (`%zz`, a lone `%`, `%C3%28` that is no UTF-8) was read as its literal text.
    const search = new URL(c.req.url).search;
    if (search.includes('%')) for (const part of search.slice(1).split('&')) {
      try {
        decodeURIComponent(part.replace(/\+/g, ' '));
      } catch {
        throw new AirmailError('QUERY_INVALID', `the query string part '${clip(part, 60)}' has a malformed %-escape (a '%' must start two hex digits of UTF-8; write a literal % as %25)`);
      }
    }
    const q = c.req.queries();
    // Without a prototype, `?__proto__=x` is a key like any other (an unknown input), not a prototype set and dropped.
    const inputs = Object.create(null) as Record<string, string[]>;
    for (const [k, v] of Object.entries(q)) if (!RESERVED_QUERY.has(k)) inputs[k] = v;
    return inputs;
  };

  app.get('/pipelines/:name', async (c) => {
    const name = c.req.param('name');
    if (new URL(c.req.url).search === '') return c.json(describe(name));
    return execute(c, name, queryInputs(c), 'query');
  });
  app.get('/pipelines/:name/run', async (c) => execute(c, c.req.param('name'), queryInputs(c), 'query'));
  app.post('/pipelines/:name', async (c) => {
    const name = c.req.param('name');
    const x = engine.snapshot.experiments?.get(name);
    const p = x ? { name: x.name, version: x.version } : engine.pipeline(name);
    let value: unknown;
    let format: BodyFormat;
    try {
      ({ value, format } = await readBody(c, 'json'));
      if (!isPlainObject(value)) throw inputsNotAnObject();
    } catch (err) {
      return answerError(c, err, { pipeline: p.name, version: p.version });
    }
    return execute(c, name, value, format);
  });
  app.get('/pipelines/:name/explain', (c) => {
    const x = engine.snapshot.experiments?.get(c.req.param('name'));
    // Time bounds such as now-30d are shown resolved at the request's now, pinned as a run's is (x-airmail-now).
    const now = nowOption(c.req.header(NOW_HEADER)).now ?? engine.clockNow();
    // The plan, and the pipeline's fallback (what answers when its run fails, runs late or answers too few).
    const explained = (p: ReturnType<Engine['pipeline']>): object => ({ ...explainPlan(p.plan, p.literal, p.file ? dirname(p.file) : undefined, now), ...explainFallback(p) });
    if (x) return c.json({ experiment: describeExperiment(x, paths.file(x.file)), arms: Object.fromEntries(x.arms.map((a) => [a.pipeline, explained(engine.pipeline(a.pipeline))])) });
    return c.json(explained(engine.pipeline(c.req.param('name'))));
  });

  app.post('/execute', async (c) => {
    const { value, format } = await readBody(c, undefined);
    // Parsed but not an object: the body was read, its shape is wrong (422, as admin POST /pipelines and /validate answer it), not unparsable.
    if (!isPlainObject(value)) {
      const message = "the body must be an object with 'pipeline:' and 'inputs:'";
      throw new AirmailError('CONFIG_INVALID', message, { details: { errors: [{ code: 'CONFIG_INVALID', pointer: '', message }] } });
    }
    const { inputs = {}, ...config } = value;
    const named = isPlainObject(config['pipeline']) && typeof config['pipeline']['name'] === 'string' ? { pipeline: config['pipeline']['name'] } : {};
    let p: Awaited<ReturnType<Engine['compileAdhoc']>>;
    try {
      p = await engine.compileAdhoc(config, JSON.stringify(config));
    } catch (err) {
      return answerError(c, err, named);
    }
    try {
      const debug = debugOf(c);
      const checked = engine.checkInputs(p, inputs, format);
      return c.json(await engine.run(p, checked, { debug, ...traceOptions(c), ...deadlineOption(c.req.header(DEADLINE_HEADER)), ...nowOption(c.req.header(NOW_HEADER)), ...goneOption(c) }), 200);
    } catch (err) {
      return answerError(c, err, { pipeline: p.name, version: p.version });
    }
  });

  const dryRuns = new DutyLimit('a dry run (POST /validate compiles every config with the sent one)');
  app.post('/validate', async (c) => {
    // A dry run of admin POST /pipelines: the same checks, so the same status, code and errors,
    // and nothing applied. The text is checked as sent: lines and columns are the body's ('file': 'request body').
    const { value, text } = await readBody(c, undefined);
    try {
      const diags = await dryRuns.run(() => engine.store.validatePut(adminPutName(value), text));
      if (diags.length > 0) throw diagnosticsError(diags);
    } catch (err) {
      const e = asAirmailError(err);
      for (const [k, v] of Object.entries(retryHeaders(e))) c.header(k, v);
      // The error response shape (as every error answer), with valid: false and always an errors list.
      const t0 = started.get(c);
      const body = Object.assign({ valid: false }, errorBody(e, t0 === undefined ? {} : { took_ms: tookMs(t0) }, paths));
      if (body['errors'] === undefined) body['errors'] = [{ code: e.code, message: paths.text(e.message) }];
      return c.json(body, e.status as 400);
    }
    return c.json({ valid: true, errors: [] }, 200);
  });

  app.post('/pipelines', admin, async (c) => {
    const { value, text } = await readBody(c, undefined);
    const name = adminPutName(value);
    const existed = engine.snapshot.pipelines.has(name);
    noteAudit(c, { action: 'pipeline.put', pipeline: name, version_before: engine.snapshot.pipelines.get(name)?.version ?? null });
    // Saved as sent (comments and layout kept); checked as sent, so diagnostics point into the body.
    const diags = await engine.store.put(name, text);
    noteAudit(c, { version_after: engine.snapshot.pipelines.get(name)?.version ?? null });
    if (diags.length > 0) throw diagnosticsError(diags);
    return c.json(describe(name), existed ? 200 : 201);
  });
  app.delete('/pipelines/:name', admin, async (c) => {
    const name = c.req.param('name') ?? '';
    const x = engine.snapshot.experiments?.get(name);
    if (x) throw new AirmailError('CONFIG_CONFLICT', `'${name}' is an experiment, defined in ${paths.file(x.file)}: end it by removing it from that file (admin routes change pipelines only)`);
    noteAudit(c, { action: 'pipeline.delete', pipeline: name, version_before: engine.snapshot.pipelines.get(name)?.version ?? null });
    const r = await engine.store.remove(name);
    noteAudit(c, { version_after: engine.snapshot.pipelines.get(name)?.version ?? null });
    if (r === 'not-found') throw new AirmailError('PIPELINE_NOT_FOUND', `no pipeline named '${clip(name, PATH_CHARS)}' is loaded`);
    if (r.length > 0) throw diagnosticsError(r);
    return c.body(null, 204);
  });

  mountBatchRoute(app, engine, { paths, answerError, ...(opts.maxBatch ? { maxBatch: opts.maxBatch } : {}) });
  mountModelRoutes(app, engine);
  mountOperatorRoutes(app, engine);
  app.get('/openapi.json', (c) => c.json(openApi(engine, opts.maxBatch)));
  app.get('/docs', (c) => c.html(docsPage(engine)));
  mountObservability(app, engine);
  return app;
}

/**
 * For a path, the methods that have a route (HEAD with GET, as Hono answers it), leaving out routes
 * that pass through `hidden` (admin routes, when they are served on another port).
 */
function allowedMethods(app: Hono, hidden: unknown): (path: string) => string[] {
  const hiddenRoutes = new Set(app.routes.filter((r) => hidden !== undefined && r.handler === hidden).map((r) => `${r.method} ${r.path}`));
  const escape = (seg: string): string => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const table = app.routes
    .filter((r) => r.method !== 'ALL' && !hiddenRoutes.has(`${r.method} ${r.path}`))
    .map((r) => ({ method: r.method, pattern: new RegExp(`^${r.path.split('/').map(escape).join('/')}/?$`) }));
  return (path) => {
    const methods = new Set(table.filter((r) => r.pattern.test(path)).map((r) => r.method));
    if (methods.has('GET')) methods.add('HEAD');
    return ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => methods.has(m));
  };
}
