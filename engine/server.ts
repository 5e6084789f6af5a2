/**
 * Starting and stopping a server: fails fast at start, drains on close
 * (readiness off → HTTP drained → pool → store), safe to close twice.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Engine, type EngineOptions } from './engine.js';
import { createApp, DEFAULT_BODY_LIMIT, errorBody, retryHeaders } from './http/app.js';
import { fastLane } from './http/fast-lane.js';
import { corsGate, type CorsOrigins } from './http/cors.js';
import { Observability } from './observe/index.js';
import { ERRORS, formatDiagnostic, type Diagnostic } from './errors.js';
import type { ReloadEvent } from './config-store.js';
import { publicPaths } from './config/public-paths.js';
import { AuditLog } from './reliability/audit.js';
import { drain, listen, type Refusal } from './reliability/listen.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './observe/request-id.js';
import { forgetExperimentSeries } from './experiments.js';

export interface ServerOptions extends EngineOptions {
  readonly port?: number;
  readonly host?: string;
  readonly adminToken?: string;
  readonly bodyLimit?: number;
  /** The most requests one batch may hold (default 1,000; http/batch-route.ts). */
  readonly maxBatch?: number;
  /** Serve admin routes on this port only (0 = any free port); the main port then answers 404 for them. */
  readonly adminPort?: number;
  /** Interface of the admin port (default 127.0.0.1). */
  readonly adminHost?: string;
  /** JSON-lines file that every admin request is appended to. */
  readonly auditLog?: string;
  /** Slow clients: time allowed to send the headers (default 10 s) and the whole request (default 30 s). */
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** On close: how long readiness reports 503 while requests are still accepted (default 0). */
  readonly drainDelayMs?: number;
  /** On close: how long in-flight requests may take before their connections are cut (default 30 s). */
  readonly drainTimeoutMs?: number;
  /** Answer plain pipeline runs on the raw listener, before the app (http/fast-lane.ts; default on, AIRMAIL_FAST_LANE=0 turns it off). */
  readonly fastLane?: boolean;
  /** Origins whose pages may call the serving routes from a browser (CORS; http/cors.ts), or '*'; unset: none. */
  readonly corsOrigins?: CorsOrigins;
}

export interface RunningServer {
  readonly engine: Engine;
  readonly url: string;
  readonly port: number;
  /** Where admin routes are served when `adminPort` was given. */
  readonly adminUrl?: string;
  readonly adminPort?: number;
  /** True from the moment close() is called. */
  readonly draining: boolean;
  readonly startErrors: readonly Diagnostic[];
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  // Metrics on, logs at info (silent under NODE_ENV=test), tracing per OTEL_*: see observe/index.ts.
  // An audit log that cannot be written fails the start, before anything is opened.
  const audit = opts.auditLog ? await AuditLog.open(opts.auditLog) : undefined;
  const engine = new Engine({ ...opts, observe: opts.observe ?? Observability.fromEnv() });
  // A start that fails (no configs directory, a port in use) closes what it opened, so the process can exit.
  const startErrors = await engine.start().catch(async (err: unknown) => {
    await engine.close();
    throw err;
  });
  logStartRejections(engine, startErrors);
  engine.store.onReload(reloadLogger(engine));
  let draining = false;
  const common = {
    ...(opts.adminToken ? { adminToken: opts.adminToken } : {}),
    ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
    ...(opts.maxBatch ? { maxBatch: opts.maxBatch } : {}),
    ...(audit ? { audit: audit.record } : {}),
    isReady: () => !draining,
    isDraining: () => draining,
  };
  const separateAdmin = opts.adminPort !== undefined;
  const app = createApp(engine, { ...common, ...(separateAdmin ? { adminElsewhere: true } : {}) });
  const timeouts = {
    ...(opts.headersTimeoutMs !== undefined ? { headersTimeoutMs: opts.headersTimeoutMs } : {}),
    ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
  };
  const shed = shedEarly(engine, () => draining);
  const laneOn = opts.fastLane ?? process.env['AIRMAIL_FAST_LANE'] !== '0';
  const lane = laneOn ? fastLane(engine, { bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT, isDraining: () => draining }) : undefined;
  const cors = opts.corsOrigins ? corsGate(opts.corsOrigins) : undefined;
  const gate = (req: IncomingMessage, res: ServerResponse): boolean => {
    // Every request's id, made once here: the early 503, the fast lane and the app all use it.
    const id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.headers[REQUEST_ID_HEADER] = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    // A CORS preflight is answered first: it is not a request (no metrics, no worker).
    return (cors !== undefined && cors(req, res)) || shed(req, res) || (lane !== undefined && lane(req, res));
  };
  const outside = { refusal: (code: Refusal, message: string, tookMs: number) => JSON.stringify(errorBody({ code, message }, { took_ms: tookMs })), bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT };
  const main = await listen(app.fetch, { port: opts.port ?? 8080, host: opts.host ?? '0.0.0.0', ...timeouts, ...outside, gate }).catch(async (err: unknown) => {
    await engine.close();
    throw err;
  });
  let admin: { server: Server; port: number } | undefined;
  if (separateAdmin) {
    admin = await listen(createApp(engine, common).fetch, { port: opts.adminPort!, host: opts.adminHost ?? '127.0.0.1', ...timeouts, ...outside }).catch(async (err: unknown) => {
      await drain(main.server, 0);
      await engine.close();
      throw err;
    });
  }
  let closing: Promise<void> | undefined;
  return {
    engine,
    port: main.port,
    url: `http://127.0.0.1:${main.port}`,
    ...(admin ? { adminPort: admin.port, adminUrl: `http://127.0.0.1:${admin.port}` } : {}),
    get draining() {
      return draining;
    },
    startErrors,
    close() {
      closing ??= (async () => {
        // Readiness goes to 503 first; requests are still accepted for drainDelayMs (load balancers
        // notice), then listening stops and in-flight and keep-alive requests finish.
        draining = true;
        if (opts.drainDelayMs) await new Promise((r) => setTimeout(r, opts.drainDelayMs));
        const timeout = opts.drainTimeoutMs ?? 30_000;
        await Promise.all([drain(main.server, timeout), admin ? drain(admin.server, timeout) : undefined]);
        await engine.close();
        await engine.observe.tracing?.forceFlush();
        await audit?.flush();
      })();
      return closing;
    },
  };
}

/**
 * Load shedding before the app: a pipeline request that the pool would refuse anyway gets its
 * 503 here, without routing, reading the body or checking inputs, so under overload the main
 * thread spends its time on the requests it accepts.
 */
function shedEarly(engine: Engine, draining: () => boolean): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url ?? '';
    if (!url.startsWith('/pipelines/') || (req.method !== 'POST' && req.method !== 'GET')) return false;
    const q = url.indexOf('?');
    const parts = (q < 0 ? url : url.slice(0, q)).split('/');
    // Runs only: POST /pipelines/NAME, GET /pipelines/NAME?inputs, GET /pipelines/NAME/run.
    if (parts.length > 4 || (parts.length === 4 && parts[3] !== 'run') || (req.method === 'GET' && parts.length === 3 && q < 0)) return false;
    let name: string;
    try {
      name = decodeURIComponent(parts[2] ?? '');
    } catch {
      return false;
    }
    const p = engine.snapshot.pipelines.get(name);
    const shed = p && engine.runner.shedding?.(p);
    // A pipeline refused by its own bulkhead share goes on to its run, where its fallback answers (engine/fallback.ts).
    if (!shed || (p.fallback && shed.details.bulkhead !== undefined)) return false;
    // No error object: refusing is what the main thread does most of under overload (see Shed).
    engine.observe.shed(name, shed.message);
    req.resume();
    res.writeHead(ERRORS[shed.code].status, { 'content-type': 'application/json', ...retryHeaders(shed), ...(draining() ? { connection: 'close' } : {}) });
    res.end(JSON.stringify(errorBody(shed, { pipeline: name, version: p.version, took_ms: 0 })));
    return true;
  };
}

/**
 * Files that did not compile at startup, as a `warn` JSON line like a rejected reload's (`files`,
 * `errors`): log shippers see why a pipeline is missing, not only a terminal reading stderr.
 */
export function logStartRejections(engine: Engine, diags: readonly Diagnostic[]): void {
  if (diags.length === 0) return;
  const paths = publicPaths(engine.store.dir);
  const files = [...new Set(diags.map((d) => d.file).filter((f): f is string => !!f))].map(paths.file);
  const errors = diags.map((d) => formatDiagnostic(paths.diagnostic(d)));
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  engine.observe.logger.log('warn', `config rejected at startup, not served (there is no earlier version): ${errors[0]}${more}`, { files, errors });
}

/**
 * Config reloads as JSON log lines: a rejection with its errors (warn), or one line per pipeline
 * whose version the applied change moved (info): changed or added (`pipeline`, `version`, `file`),
 * or removed (`version: null`, `removed: true`). Versions are compared with the ones served before,
 * so a pipeline moved by another file (a preset, a dataset or an operator edit) gets its line too.
 */
export function reloadLogger(engine: Engine): (e: ReloadEvent) => void {
  const versions = (): Map<string, string> => new Map([...engine.snapshot.pipelines.values()].map((p) => [p.name, p.version]));
  let served = versions();
  const experiments = (): Map<string, string> => new Map([...(engine.snapshot.experiments?.values() ?? [])].map((x) => [x.name, x.version]));
  let servedExperiments = experiments();
  const paths = publicPaths(engine.store.dir);
  return (e) => {
    const log = engine.observe.logger;
    const files = e.files.map(paths.file);
    if (e.kind === 'rejected') {
      const errors = (e.diagnostics ?? []).map((d) => formatDiagnostic(paths.diagnostic(d)));
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
      log.log('warn', `config reload rejected, the last good version keeps serving: ${errors[0] ?? 'invalid'}${more}`, { files, errors });
      return;
    }
    if (e.kind === 'cleared') {
      log.log('info', `config rejection of ${files.join(', ')} cleared: restored to the version serving`, { files });
      return;
    }
    const before = served;
    served = versions();
    for (const name of before.keys()) if (!served.has(name)) engine.observe.forget(name);
    const experimentsBefore = servedExperiments;
    servedExperiments = experiments();
    for (const name of experimentsBefore.keys()) if (!servedExperiments.has(name)) engine.observe.forget(name);
    if (engine.observe.metrics) forgetExperimentSeries(engine.observe.metrics, engine.snapshot.experiments);
    if (!log.enabled('info')) return;
    let lines = 0;
    for (const p of engine.snapshot.pipelines.values()) {
      if (before.get(p.name) === p.version) continue;
      lines++;
      log.log('info', `config reload applied: ${p.name} now serves version ${p.version}`, { pipeline: p.name, version: p.version, file: paths.file(p.file), files });
    }
    for (const [name, version] of before) {
      if (served.has(name)) continue;
      lines++;
      log.log('info', `config reload applied: ${name} removed (it served version ${version})`, { pipeline: name, version: null, removed: true, files });
    }
    for (const [name, version] of servedExperiments) {
      if (experimentsBefore.get(name) === version) continue;
      lines++;
      log.log('info', `config reload applied: experiment ${name} now assigns by version ${version}`, { experiment: name, version, files });
    }
    if (lines === 0) log.log('info', `config reload applied: ${files.join(', ')} (no pipeline changed version)`, { files });
  };
}

/** Problems for a terminal (the CLI), one a line, files relative to the current directory as a compiler names them. */
export function logDiagnostics(diags: readonly Diagnostic[], write: (s: string) => void = (s) => process.stderr.write(s)): void {
  const paths = publicPaths(process.cwd());
  for (const d of diags) write(`${formatDiagnostic(paths.diagnostic(d))}\n`);
}
