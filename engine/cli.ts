/**
 * `airmail` command line: serve, validate, run. The composition root (bin/)
 * injects the built-in operators; the engine never imports them itself.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { OperatorDefinition } from './api.js';
import { loadConfigSet } from './config/load.js';
import { Engine } from './engine.js';
import { asAirmailError, formatDiagnostic } from './errors.js';
import { logDiagnostics, startServer } from './server.js';
import { registryCli } from './registry/cli.js';
import { ModelHub } from './registry/model-hub.js';

export interface Builtins {
  readonly operators: readonly OperatorDefinition[];
  /** Module URLs defining them (imported by each worker). */
  readonly operatorModules: readonly string[];
  /** Default configs directory (the demo). */
  readonly defaultConfigs: string;
}

const USAGE = `usage:
  airmail serve [--configs DIR] [--port N] [--host H] [--threads N] [--registry URL|DIR]
                [--admin-port N] [--admin-host H] [--audit-log FILE] [--drain-delay-ms N] [--deadline-ms N] [--max-queue-wait-ms N] [--inline-under-ms N]
  airmail validate FILE...
  airmail run PIPELINE [--configs DIR] [--registry URL|DIR] --input key=value ...
  airmail publish --artifact FILE --flavor onnx|js --name NAME --description TEXT [--tag k=v]... [--sample FILE] [--metrics FILE] [--registry URL|DIR]
  airmail registry serve --root DIR [--port N] [--host H]
  airmail registry query|resolve|alias|metrics ... [--registry URL|DIR]
`;

export async function main(argv: readonly string[], builtins: Builtins): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== undefined && rest.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    return await dispatch(cmd, rest, argv, builtins);
  } catch (err) {
    // A mistyped or unknown flag: say which, then how the command is used (no stack trace).
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`airmail ${cmd ?? ''}: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

async function dispatch(cmd: string | undefined, rest: readonly string[], argv: readonly string[], builtins: Builtins): Promise<number> {
  switch (cmd) {
    case 'serve':
      return serveCmd(rest, builtins);
    case 'validate':
      return validateCmd(rest, builtins);
    case 'run':
      return runCmd(rest, builtins);
    case 'publish':
    case 'registry':
      return registryCli(argv);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command '${cmd}'\n${USAGE}`);
      return 2;
  }
}

async function serveCmd(args: readonly string[], b: Builtins): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      configs: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      threads: { type: 'string' },
      registry: { type: 'string' },
      'admin-port': { type: 'string' },
      'admin-host': { type: 'string' },
      'audit-log': { type: 'string' },
      'drain-delay-ms': { type: 'string' },
      'deadline-ms': { type: 'string' },
      'max-queue-wait-ms': { type: 'string' },
      'inline-under-ms': { type: 'string' },
    },
  });
  const configs = resolve(values.configs ?? process.env['AIRMAIL_CONFIGS'] ?? b.defaultConfigs);
  const port = Number(values.port ?? process.env['PORT'] ?? 8080);
  const threads = values.threads !== undefined ? Number(values.threads) : process.env['AIRMAIL_THREADS'] ? Number(process.env['AIRMAIL_THREADS']) : undefined;
  const adminToken = process.env['AIRMAIL_ADMIN_TOKEN'];
  const registry = values.registry ?? process.env['AIRMAIL_REGISTRY'];
  const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));
  const adminPort = num(values['admin-port'] ?? process.env['AIRMAIL_ADMIN_PORT']);
  const drainDelayMs = num(values['drain-delay-ms'] ?? process.env['AIRMAIL_DRAIN_DELAY_MS']);
  const deadlineMs = num(values['deadline-ms'] ?? process.env['AIRMAIL_DEADLINE_MS']);
  const maxQueueWaitMs = num(values['max-queue-wait-ms'] ?? process.env['AIRMAIL_MAX_QUEUE_WAIT_MS']);
  const inlineUnderMs = num(values['inline-under-ms'] ?? process.env['AIRMAIL_INLINE_UNDER_MS']);
  const auditLog = values['audit-log'] ?? process.env['AIRMAIL_AUDIT_LOG'] ?? (adminToken ? resolve('airmail-audit.jsonl') : undefined);
  const srv = await startServer({
    configs,
    operators: b.operators,
    operatorModules: b.operatorModules,
    port,
    ...(values.host ? { host: values.host } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(adminToken ? { adminToken } : {}),
    ...(adminPort !== undefined ? { adminPort, ...(values['admin-host'] ? { adminHost: values['admin-host'] } : {}) } : {}),
    ...(auditLog ? { auditLog: resolve(auditLog) } : {}),
    ...(drainDelayMs !== undefined ? { drainDelayMs } : {}),
    ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    ...(maxQueueWaitMs !== undefined ? { maxQueueWaitMs } : {}),
    ...(inlineUnderMs !== undefined ? { inlineUnderMs } : {}),
    ...(registry ? { registry } : {}),
  });
  logDiagnostics(srv.startErrors);
  const names = [...srv.engine.snapshot.pipelines.keys()];
  // JSON lines like the rest of the log, written whatever the level: scripts wait for "on http://...".
  const log = srv.engine.observe.logger;
  log.notice('info', `airmail serving ${names.length} pipeline(s) [${names.join(', ')}] from ${configs} on http://localhost:${srv.port} (${srv.engine.runner.threads || 'inline'} worker threads)`, { url: `http://localhost:${srv.port}`, pipelines: names, threads: srv.engine.runner.threads });
  if (srv.adminUrl) log.notice('info', `admin routes on ${srv.adminUrl}`, { admin_url: srv.adminUrl });
  log.flush();
  const stop = (sig: string): void => {
    log.notice('info', `${sig}: draining`, { signal: sig });
    void srv.close().then(
      () => {
        log.notice('info', 'drained: exit 0');
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.notice('error', `shutdown failed: ${(err as Error).message}`);
        log.flush();
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return new Promise<number>(() => undefined);
}

async function validateCmd(files: readonly string[], b: Builtins): Promise<number> {
  if (files.length === 0) {
    process.stderr.write('validate needs at least one FILE\n');
    return 2;
  }
  const sources = await Promise.all(files.map(async (f) => ({ path: resolve(f), text: await readFile(f, 'utf8') })));
  // Registry models resolve against AIRMAIL_REGISTRY when it is set (without one they are reported).
  const registry = process.env['AIRMAIL_REGISTRY'];
  const models = registry ? new ModelHub({ location: registry, log: () => undefined }) : undefined;
  const r = await loadConfigSet(sources, { operators: new Map(b.operators.map((d) => [d.name, d])), ...(models ? { models } : {}) }).finally(() => models?.close());
  if (!r.ok) {
    for (const d of r.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.stderr.write(`${r.diagnostics.length} problem(s)\n`);
    return 1;
  }
  process.stdout.write(`ok: ${[...r.snapshot.pipelines.values()].map((p) => `${p.name}@${p.version}`).join(', ') || 'no pipelines'}\n`);
  return 0;
}

async function runCmd(args: readonly string[], b: Builtins): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { configs: { type: 'string' }, input: { type: 'string', multiple: true }, debug: { type: 'boolean' }, registry: { type: 'string' } },
  });
  const name = positionals[0];
  if (!name) {
    process.stderr.write(`run needs a PIPELINE name\n${USAGE}`);
    return 2;
  }
  const registry = values.registry ?? process.env['AIRMAIL_REGISTRY'];
  const engine = new Engine({ configs: resolve(values.configs ?? b.defaultConfigs), operators: b.operators, operatorModules: b.operatorModules, threads: 0, watch: false, ...(registry ? { registry, modelHub: { log: () => undefined } } : {}) });
  const diags = await engine.start();
  logDiagnostics(diags);
  try {
    const inputs: Record<string, string> = {};
    for (const kv of values.input ?? []) {
      const i = kv.indexOf('=');
      if (i < 0) throw new Error(`--input expects key=value, got '${kv}'`);
      inputs[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const p = engine.pipeline(name);
    const res = await engine.run(p, engine.checkInputs(p, inputs, true), { debug: values.debug === true });
    process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
    return res.error ? 1 : 0;
  } catch (err) {
    const e = asAirmailError(err);
    process.stderr.write(`${e.code}: ${e.message}\n`);
    return 1;
  } finally {
    await engine.close();
  }
}
