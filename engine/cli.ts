/**
 * `airmail` command line: serve, validate, run, operators. The composition root (bin/)
 * injects the built-in operators; the engine never imports them itself.
 */
import { relative, resolve } from 'node:path';
import type { OperatorDefinition } from './api.js';
import { parseFlags, routeWarnings, UsageError } from './cli-args.js';
import { PathError, validateFiles } from './cli-validate.js';
import { OPERATORS_USAGE, operatorsCmd } from './cli-operators.js';
import { Engine } from './engine.js';
import { runExperiment } from './experiments.js';
import { closest } from './config/validators.js';
import { AirmailError, asAirmailError } from './errors.js';
import { logDiagnostics, startServer } from './server.js';
import { adminTokenOf } from './http/admin.js';
import { parseCorsOrigins } from './http/cors.js';
import { PUBLISH_USAGE, REGISTRY_USAGE, registryCli } from './registry/cli.js';
import { ModelHub } from './registry/model-hub.js';
import { RemoteBroker } from './remote/broker.js';
import { remoteDatasetLoader } from './remote/datasets.js';
import { Observability } from './observe/index.js';

export interface Builtins {
  readonly operators: readonly OperatorDefinition[];
  /** Module URLs defining them (imported by each worker). */
  readonly operatorModules: readonly string[];
  /** Default configs directory (the demo). */
  readonly defaultConfigs: string;
  /** package.json's version, for `airmail --version`. */
  readonly version?: string;
}

const SERVE_USAGE = `  airmail serve [--configs DIR] [--port N] [--host H] [--threads N] [--registry URL|DIR]
                [--admin-port N] [--admin-host H] [--audit-log FILE] [--drain-delay-ms N] [--deadline-ms N] [--max-queue-wait-ms N] [--inline-under-ms N] [--max-batch N]
                [--max-workers-per-pipeline N]
                [--reload-settle-ms N] [--redis-timeout-ms N] [--cors-origin ORIGIN[,ORIGIN...]|*]`;
const VALIDATE_USAGE = '  airmail validate [--alone] [--configs DIR] [--registry URL|DIR] [FILE|DIR...]';
const RUN_USAGE = '  airmail run PIPELINE [--configs DIR] [--registry URL|DIR] [--debug] [--arm ARM] --input key=value ...';
const EXIT_STATUS = `exit status: 0 done; 2 a command line that cannot work as given (an unknown option, a malformed value such as
  --port abc, --sha256 abc or --tag 'a b=x', a missing --artifact, --sample, --metrics or metrics FILE);
  1 refused or failed (a coded error such as ARTIFACT_CORRUPT on stderr, a port in use, a configs directory that does not exist,
  a pipeline whose config was rejected, a run answered with error: true)
output: results (run's JSON, validate's ok line, registry answers) on stdout; problems, warnings and usage on stderr;
  serve and registry serve log to stdout
environment: a flag wins over its variable (PORT, AIRMAIL_CONFIGS, AIRMAIL_REGISTRY, AIRMAIL_THREADS, ...; see the README)
`;
const USAGE = `usage:\n${SERVE_USAGE}\n${VALIDATE_USAGE}\n${RUN_USAGE}\n${OPERATORS_USAGE}\n${PUBLISH_USAGE}\n${REGISTRY_USAGE}\n${EXIT_STATUS}`;
/** `airmail CMD --help`: that command's lines and the exit status. */
const COMMAND_USAGE: Readonly<Record<string, string>> = {
  serve: SERVE_USAGE, validate: VALIDATE_USAGE, run: RUN_USAGE, operators: OPERATORS_USAGE, publish: PUBLISH_USAGE, registry: REGISTRY_USAGE,
};
const usageOf = (cmd: string | undefined): string => {
  const lines = cmd !== undefined && Object.hasOwn(COMMAND_USAGE, cmd) ? COMMAND_USAGE[cmd] : undefined;
  return lines === undefined ? USAGE : `usage:\n${lines}\n${EXIT_STATUS}`;
};
const HELP = new Set(['--help', '-h', 'help']);

export async function main(argv: readonly string[], builtins: Builtins): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== undefined && rest.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(usageOf(cmd));
    return 0;
  }
  // Node's "(node:PID) Warning ... --trace-warnings" becomes one line of the command's own (serve: its JSON log).
  const setWarningSink = routeWarnings((msg, code) => void process.stderr.write(`airmail ${cmd ?? ''}: warning: ${msg}${code ? ` [${code}]` : ''}\n`));
  try {
    return await dispatch(cmd, rest, argv, builtins, setWarningSink);
  } catch (err) {
    // A mistyped or unknown flag: say which (and the nearest known one), then how the command is used (no stack trace).
    if (err instanceof UsageError) {
      process.stderr.write(`airmail ${cmd ?? ''}: ${err.message}\n${err.showUsage ? usageOf(cmd) : ''}`);
      return 2;
    }
    // Anything else that stops a command: one line (what, where, why), no stack trace.
    process.stderr.write(`airmail ${cmd ?? ''}: ${explain(err)}\n`);
    return 1;
  }
}

/** One line for an error that stops a command. */
export function explain(err: unknown): string {
  if (err instanceof AirmailError) return `${err.message} [${err.code}]`;
  if (err instanceof PathError) return err.message;
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  const where = e.address !== undefined ? `${e.address}:${e.port ?? ''}` : e.path;
  switch (e.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the port is already in use (EADDRINUSE); stop what holds it, or choose another port`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      // getaddrinfo: a --host (or --admin-host) that is no address and no name this machine can resolve.
      return `cannot listen on ${e.hostname ?? where ?? 'the host given'}: no such host (${e.code}); give --host an address of this machine (0.0.0.0 for all, 127.0.0.1 for this machine only) or a name that resolves to one`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: no such address on this machine (EADDRNOTAVAIL); check --host`;
    case 'EACCES':
      return `${where ?? 'a file or port'}: permission denied (EACCES)`;
    case 'ENOENT':
      return `${where ?? 'a file'}: no such file or directory (ENOENT)`;
    case 'EISDIR':
      return `${where ?? 'a path'} is a directory (EISDIR)`;
    default:
      return err instanceof Error ? `${err.message}${e.code ? '' : ' (unexpected: please report it)'}` : String(err);
  }
}

/** A whole number from `min` up, or undefined when not given; anything else is a UsageError naming the flag. */
function wholeNumber(flag: string, v: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  // An empty variable is unset, as shells write it; an empty flag (--port '') is a mistake.
  if (v === undefined || (v === '' && !flag.startsWith('--'))) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got '${v}'`);
  return n;
}

type WarningSink = ReturnType<typeof routeWarnings>;

/** The most worker threads serve starts (0: run inline on the main thread). */
const MAX_THREADS = 256;

async function dispatch(cmd: string | undefined, rest: readonly string[], argv: readonly string[], builtins: Builtins, setWarningSink: WarningSink): Promise<number> {
  switch (cmd) {
    case 'serve':
      return serveCmd(rest, builtins, setWarningSink);
    case 'validate':
      return validateCmd(rest, builtins);
    case 'run':
      return runCmd(rest, builtins);
    case 'operators':
      return operatorsCmd(rest, builtins);
    case 'publish':
    case 'registry':
      return registryCli(argv);
    case undefined:
      process.stderr.write(USAGE);
      return 2;
    case '--version':
    case '-v':
      process.stdout.write(`airmail ${builtins.version ?? 'unknown version'}\n`);
      return 0;
    default: {
      if (HELP.has(cmd)) {
        // `airmail help run` is `airmail run --help`.
        process.stdout.write(usageOf(rest[0]));
        return 0;
      }
      const near = closest(cmd, Object.keys(COMMAND_USAGE));
      process.stderr.write(`airmail: unknown command '${cmd}'${near ? ` (did you mean ${near}?)` : ''}\n${USAGE}`);
      return 2;
    }
  }
}

async function serveCmd(args: readonly string[], b: Builtins, setWarningSink: WarningSink): Promise<number> {
  const { values } = parseFlags(args, {
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
      'max-workers-per-pipeline': { type: 'string' },
      'reload-settle-ms': { type: 'string' },
      'redis-timeout-ms': { type: 'string' },
      'cors-origin': { type: 'string' },
      'max-batch': { type: 'string' },
  });
  const configs = resolve(values.configs ?? process.env['AIRMAIL_CONFIGS'] ?? b.defaultConfigs);
  const port = wholeNumber(values.port !== undefined ? '--port' : 'PORT', values.port ?? process.env['PORT'], 0, 65535) ?? 8080;
  // Every worker starts at once with a heap of its own: a typo such as --threads 40000 would exhaust memory, not serve.
  const threads = wholeNumber(values.threads !== undefined ? '--threads' : 'AIRMAIL_THREADS', values.threads ?? process.env['AIRMAIL_THREADS'], 0, MAX_THREADS);
  // Blank (or only whitespace) is no token: admin routes stay disabled.
  const adminToken = adminTokenOf(process.env['AIRMAIL_ADMIN_TOKEN']);
  const registry = values.registry ?? process.env['AIRMAIL_REGISTRY'];
  const num = (flag: keyof typeof values, env: string, max?: number): number | undefined => wholeNumber(values[flag] !== undefined ? `--${flag}` : env, values[flag] ?? process.env[env], 0, max);
  const adminPort = num('admin-port', 'AIRMAIL_ADMIN_PORT', 65535);
  const drainDelayMs = num('drain-delay-ms', 'AIRMAIL_DRAIN_DELAY_MS');
  const deadlineMs = num('deadline-ms', 'AIRMAIL_DEADLINE_MS');
  const maxQueueWaitMs = num('max-queue-wait-ms', 'AIRMAIL_MAX_QUEUE_WAIT_MS');
  const inlineUnderMs = num('inline-under-ms', 'AIRMAIL_INLINE_UNDER_MS');
  const maxWorkersPerPipeline = wholeNumber(values['max-workers-per-pipeline'] !== undefined ? '--max-workers-per-pipeline' : 'AIRMAIL_MAX_WORKERS_PER_PIPELINE', values['max-workers-per-pipeline'] ?? process.env['AIRMAIL_MAX_WORKERS_PER_PIPELINE'], 1, MAX_THREADS);
  const reloadSettleMs = num('reload-settle-ms', 'AIRMAIL_RELOAD_SETTLE_MS', 60_000);
  const redisTimeoutMs = wholeNumber(values['redis-timeout-ms'] !== undefined ? '--redis-timeout-ms' : 'AIRMAIL_REDIS_TIMEOUT_MS', values['redis-timeout-ms'] ?? process.env['AIRMAIL_REDIS_TIMEOUT_MS'], 1, 60_000);
  const maxBatch = wholeNumber(values['max-batch'] !== undefined ? '--max-batch' : 'AIRMAIL_MAX_BATCH', values['max-batch'] ?? process.env['AIRMAIL_MAX_BATCH'], 1, 1_000_000);
  const redisUrl = process.env['REDIS_URL'];
  const corsText = values['cors-origin'] ?? (process.env['AIRMAIL_CORS_ORIGIN'] || undefined);
  const corsOrigins = corsText === undefined ? undefined : parseCorsOrigins(corsText);
  if (corsOrigins !== undefined && typeof corsOrigins === 'object' && 'error' in corsOrigins) throw new UsageError(`${values['cors-origin'] !== undefined ? '--cors-origin' : 'AIRMAIL_CORS_ORIGIN'}: ${corsOrigins.error}`);
  const auditLog = values['audit-log'] ?? process.env['AIRMAIL_AUDIT_LOG'] ?? (adminToken ? resolve('airmail-audit.jsonl') : undefined);
  // The log exists before the server, so a warning raised while it starts is a log line too.
  const observe = Observability.fromEnv();
  const log = observe.logger;
  setWarningSink((msg, code) => log.log('warn', msg, code ? { code } : {}));
  const srv = await startServer({
    observe,
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
    ...(maxWorkersPerPipeline !== undefined ? { maxWorkersPerPipeline } : {}),
    ...(reloadSettleMs !== undefined ? { reloadSettleMs } : {}),
    // The remote-source cache as the engine builds it by default (REDIS_URL), with the bound on each cache command.
    ...(redisTimeoutMs !== undefined ? { remote: { ...(redisUrl ? { redisUrl } : {}), commandTimeoutMs: redisTimeoutMs } } : {}),
    ...(registry ? { registry } : {}),
    ...(corsOrigins !== undefined ? { corsOrigins } : {}),
    ...(maxBatch !== undefined ? { maxBatch } : {}),
  });
  // The files rejected at startup are already a warn line of the log (logStartRejections).
  const names = [...srv.engine.snapshot.pipelines.keys()];
  // JSON lines like the rest of the log, written whatever the level: scripts wait for "on http://...".
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
  // A second signal during the drain forces exit at once (the convention Kubernetes, Docker and a
  // Ctrl-C pressed twice rely on), without waiting for in-flight requests: said in the log first, so
  // an exit that cut requests short is not mistaken for a crash. Exit status 128 + the signal's number.
  let first: string | undefined;
  const onSignal = (sig: 'SIGTERM' | 'SIGINT'): void => {
    if (first === undefined) {
      first = sig;
      stop(sig);
      return;
    }
    const status = sig === 'SIGINT' ? 130 : 143;
    log.notice('warn', `${sig} again while draining (after ${first}): exiting now with ${status}, without waiting for in-flight requests`, { signal: sig, forced: true, exit_code: status });
    log.flush();
    process.exit(status);
  };
  // Listening before the line that says so: a SIGTERM sent as soon as it appears (a script, a
  // supervisor) met no listener in the few ms between, and killed the process without a drain.
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  const experiments = [...(srv.engine.snapshot.experiments?.keys() ?? [])];
  const andExperiments = experiments.length > 0 ? ` and ${experiments.length} experiment(s) [${experiments.join(', ')}]` : '';
  log.notice('info', `airmail serving ${names.length} pipeline(s) [${names.join(', ')}]${andExperiments} from ${configs} on http://localhost:${srv.port} (${srv.engine.runner.threads || 'inline'} worker threads)`, { url: `http://localhost:${srv.port}`, pipelines: names, ...(experiments.length > 0 ? { experiments } : {}), threads: srv.engine.runner.threads });
  if (srv.adminUrl) log.notice('info', `admin routes on ${srv.adminUrl}`, { admin_url: srv.adminUrl });
  log.flush();
  return new Promise<number>(() => undefined);
}

async function validateCmd(args: readonly string[], b: Builtins): Promise<number> {
  const { values, positionals } = parseFlags(args, { alone: { type: 'boolean' }, configs: { type: 'string' }, registry: { type: 'string' } }, Infinity);
  // --configs DIR: the named files are checked with DIR's configs (as if dropped there); alone, DIR is checked whole.
  const configs = values.configs !== undefined ? resolve(values.configs) : undefined;
  if (configs !== undefined && values.alone === true) throw new UsageError('--alone and --configs exclude each other: --alone checks the files without any configs directory');
  const files = positionals.length === 0 && configs !== undefined ? [configs] : positionals;
  if (files.length === 0) throw new UsageError('validate needs at least one FILE or DIR, or --configs DIR', true);
  // Registry models resolve against --registry or AIRMAIL_REGISTRY (without one they are reported).
  const registry = values.registry ?? process.env['AIRMAIL_REGISTRY'];
  const models = registry ? new ModelHub({ location: registry, log: () => undefined }) : undefined;
  const write = (s: string): boolean => process.stdout.write(s);
  const warn = (s: string): boolean => process.stderr.write(s);
  // Remote datasets are fetched as the server would (REDIS_URL as its cache when set).
  let broker: RemoteBroker | undefined;
  const redisUrl = process.env['REDIS_URL'];
  const remoteDatasets = remoteDatasetLoader(() => (broker ??= new RemoteBroker(redisUrl ? { redisUrl } : {})));
  return validateFiles(files, { alone: values.alone === true, ...(configs !== undefined ? { configs } : {}), operators: new Map(b.operators.map((d) => [d.name, d])), ...(models ? { models } : {}), remoteDatasets, out: write, err: warn })
    .finally(async () => { await models?.close(); await broker?.close(); });
}

async function runCmd(args: readonly string[], b: Builtins): Promise<number> {
  const { values, positionals } = parseFlags(args, { configs: { type: 'string' }, input: { type: 'string', multiple: true }, debug: { type: 'boolean' }, registry: { type: 'string' }, arm: { type: 'string' } }, 1);
  const name = positionals[0];
  if (!name) throw new UsageError('run needs a PIPELINE name', true);
  // Read as a query string is: a repeated key is a list (--input c=a --input c=b, as ?c=a&c=b), and
  // a scalar input given twice is refused by the input check rather than silently keeping the last.
  const inputs: Record<string, string | string[]> = {};
  for (const kv of values.input ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`--input expects key=value, got '${kv}'`);
    const key = kv.slice(0, i);
    const prev = inputs[key];
    inputs[key] = prev === undefined ? kv.slice(i + 1) : [...(Array.isArray(prev) ? prev : [prev]), kv.slice(i + 1)];
  }
  const registry = values.registry ?? process.env['AIRMAIL_REGISTRY'];
  // As for serve: --configs, else AIRMAIL_CONFIGS, else the demo.
  const configs = resolve(values.configs ?? process.env['AIRMAIL_CONFIGS'] ?? b.defaultConfigs);
  const engine = new Engine({ configs, operators: b.operators, operatorModules: b.operatorModules, threads: 0, watch: false, ...(registry ? { registry, modelHub: { log: () => undefined } } : {}) });
  try {
    const rejected = await engine.start();
    logDiagnostics(rejected);
    // An A/B experiment runs as a request to it does: the arm its unit picks (or --arm), with `experiment` in the answer.
    const x = engine.snapshot.experiments?.get(name);
    if (x) {
      const arms = x.arms.map((a) => a.pipeline);
      if (values.arm !== undefined && !arms.includes(values.arm)) throw new AirmailError('INPUT_INVALID', `--arm must name an arm of experiment '${x.name}' (${arms.join(', ')}); got '${values.arm}'`);
      const res = await runExperiment(engine, x, inputs, 'cli', values.arm, { debug: values.debug === true });
      process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
      return res.error ? 1 : 0;
    }
    if (values.arm !== undefined) throw new AirmailError('INPUT_INVALID', `--arm forces an arm of an A/B experiment; '${name}' is no experiment`);
    let p;
    try {
      p = engine.pipeline(name);
    } catch (err) {
      // The pipeline may be in a file that was just rejected: say so, not only "loaded: none".
      if (rejected.length === 0) throw err;
      const files = [...new Set(rejected.map((d) => d.file).filter((f): f is string => !!f))].map((f) => relative(configs, f));
      throw new AirmailError('PIPELINE_NOT_FOUND', `${asAirmailError(err).message}: ${files.join(', ') || 'the configs'} in ${configs} ${files.length > 1 ? 'were' : 'was'} rejected for the ${rejected.length} problem(s) above, and what ${files.length > 1 ? 'they define is' : 'it defines is'} not served`);
    }
    const res = await engine.run(p, engine.checkInputs(p, inputs, 'cli'), { debug: values.debug === true });
    process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
    return res.error ? 1 : 0;
  } catch (err) {
    // One line, as every other command's: `airmail run: what [CODE]`.
    process.stderr.write(`airmail run: ${explain(asAirmailError(err))}\n`);
    return 1;
  } finally {
    await engine.close();
  }
}
