/**
 * `airmail registry …` and `airmail publish …`.
 *
 *   airmail registry serve --root DIR [--port 7070] [--host 127.0.0.1] [--refresh-ms 2000]
 *   airmail registry query  [--registry R] 'name=psale,stage!=dev' [--limit N]
 *   airmail registry resolve [--registry R] (--query Q [--version V] | --name N (--version V | --alias A))
 *   airmail registry alias  [--registry R] NAME ALIAS VERSION
 *   airmail registry metrics [--registry R] NAME VERSION metrics.json
 *   airmail publish --artifact model.onnx --flavor onnx --name psale --description "…" \
 *       [--tag stage=prod]… [--sample sample.arrow] [--sample-format arrow|json|csv] [--metrics metrics.json] \
 *       [--inputs f0:float32,…] [--outputs psale:float32 | psale=probabilities[1]] [--feature-source catalog:sku_id] \
 *       [--package onnxruntime-node]… [--language python --language-version 3.11] [--sha256 HEX] [--registry R [--create]]
 *
 * R is an http(s) URL or a registry folder (file:// or a path); default AIRMAIL_REGISTRY. A folder must
 * exist; `publish --create` makes an empty registry there.
 * Exit codes: 0 ok; 2 a command line that cannot work as given, checked before anything is read or
 * sent (an unknown option, a missing file, a malformed name, tag, sha256, flavor, column type,
 * query or number); 1 the registry or the publish checks refused or failed (the coded error on stderr).
 */
import { readFile } from 'node:fs/promises';
import { parseFlags, UsageError } from '../cli-args.js';
import { listen } from '../reliability/listen.js';
import { existsSync } from 'node:fs';
import { folderOf } from '../../registry-client/file-registry.js';
import { openRegistry } from '../../registry-client/open.js';
import { assertAliasName, assertSafeName, assertValidMetrics, FLAVORS, reservedKeyProblem, type ColumnSpec, type ColumnType } from './envelope.js';
import { parseQuery } from './query.js';
import { asRegistryError, RegistryError } from './errors.js';
import { buildPublishRequest, parseOutputList } from './publish.js';
import { parsePublisherTokens, type PublisherToken } from './publishers.js';
import { createRegistryApp } from './service.js';
import type { SampleFormat } from './stats.js';
import { RegistryStore, type ResolveSpec } from './store.js';

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** serve: resolves to stop the server (default: SIGINT / SIGTERM). */
  readonly stop?: Promise<void>;
  /** serve: told the bound port once listening. */
  readonly onListening?: (url: string) => void;
  /** serve: the slow-client bounds (default 10 s for headers, 5 min for a whole request; tests shorten them). */
  readonly timeouts?: { readonly headersMs: number; readonly requestMs: number };
}

const defaultIo: CliIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };


/** A VERSION argument: a positive integer (an alias is not a version). */
function versionArg(v: string): number {
  if (!/^[1-9][0-9]*$/.test(v)) throw new UsageError(`VERSION must be a version number (1, 2, …), not ${JSON.stringify(v)}`);
  return Number(v);
}

/** How long requests still running at shutdown may finish, ms. */
const STOP_GRACE_MS = 2000;

/** The usage lines of publish and registry: also part of `airmail --help` (engine/cli.ts), so both list the same options. */
export const PUBLISH_USAGE = `  airmail publish --artifact FILE --flavor onnx|js --name NAME --description TEXT [--tag k=v]... [--sample FILE] [--metrics FILE]
                  [--sample-format arrow|json|csv] [--inputs NAME:TYPE,...] [--outputs NAME:TYPE,...|NAME=OUTPUT[COL],...]
                  [--feature-source DATASET:KEY] [--package NAME]... [--sha256 HEX] [--language NAME] [--language-version V] [--registry URL|DIR [--create]]`;
export const REGISTRY_USAGE = `  airmail registry serve --root DIR [--port N] [--host H] [--refresh-ms N]
  airmail registry query|resolve|alias|metrics ... [--registry URL|DIR]`;

const USAGE = `usage:\n${REGISTRY_USAGE}\n${PUBLISH_USAGE}`;

const COLUMN_TYPES: readonly ColumnType[] = ['float32', 'float64', 'int32', 'int64', 'bool', 'string'];
const SAMPLE_FORMATS: readonly SampleFormat[] = ['arrow', 'json', 'csv'];

function columns(s: string | undefined, flag: string): ColumnSpec[] | undefined {
  if (s === undefined) return undefined;
  return s.split(',').map((part) => {
    const spec = part.trim();
    const at = spec.lastIndexOf(':');
    // A TensorFlow tensor name ends in ':0' (dense/input:0): digits after the last ':' are part of the name, not a type.
    const [name, type] = at < 0 || /^\d+$/.test(spec.slice(at + 1)) ? [spec, 'float32'] : [spec.slice(0, at), spec.slice(at + 1)];
    if (!name) throw new UsageError(`${flag}: bad column spec ${JSON.stringify(part)}; use name:type`);
    if (!(COLUMN_TYPES as readonly string[]).includes(type)) throw new UsageError(`${flag}: column '${name}' has type ${JSON.stringify(type)}; use one of ${COLUMN_TYPES.join(', ')}`);
    return { name, type: type as ColumnType };
  });
}

/** A registry error about an argument (a name, a query) is a usage error: nothing was read or sent. */
function asUsage<T>(fn: () => T, flag: string): T {
  try { return fn(); } catch (err) { throw new UsageError(`${flag}: ${(err as Error).message}`); }
}

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (v !== undefined && !(allowed as readonly string[]).includes(v)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, not ${JSON.stringify(v)}`);
  return v as T | undefined;
}

/** --sha256: 64 hex digits (either case); a well-formed one that does not match the artifact is ARTIFACT_CORRUPT (exit 1). */
function sha256Arg(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(v)) throw new UsageError(`--sha256 must be 64 hex digits, not ${JSON.stringify(v)}`);
  return v.toLowerCase();
}

/** --registry or AIRMAIL_REGISTRY: an http(s) URL, a file:// URL or an existing folder (publish never creates one). */
function registryLocation(given: string | undefined, create = false, publishing = false): string {
  const loc = given ?? process.env.AIRMAIL_REGISTRY;
  if (!loc) throw new UsageError('no registry given: pass --registry URL|DIR or set AIRMAIL_REGISTRY');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(loc) && !/^(https?|file):\/\//i.test(loc)) throw new UsageError(`--registry ${loc}: use an http(s):// URL, a file:// URL or a folder`);
  if (!create && !/^https?:\/\//i.test(loc) && !existsSync(folderOf(loc))) throw new UsageError(`--registry ${loc}: no such registry folder (${publishing ? 'pass --create to make an empty one there, or ' : ''}create one with \`airmail registry serve --root DIR\`)`);
  return loc;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

async function serveCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(args, { root: { type: 'string' }, port: { type: 'string', default: '7070' }, host: { type: 'string', default: '127.0.0.1' }, 'refresh-ms': { type: 'string', default: '2000' } });
  if (!values.root) throw new UsageError('registry serve needs --root DIR');
  if (!/^[0-9]{1,5}$/.test(values.port) || Number(values.port) > 65535) throw new UsageError(`--port must be a port number (0-65535), not ${JSON.stringify(values.port)}`);
  if (!/^[0-9]{1,9}$/.test(values['refresh-ms'])) throw new UsageError(`--refresh-ms must be a whole number of milliseconds (0: never), not ${JSON.stringify(values['refresh-ms'])}`);
  let publishers: PublisherToken[];
  try { publishers = parsePublisherTokens(process.env.AIRMAIL_PUBLISHER_TOKENS); } catch (err) { throw new UsageError((err as Error).message); }
  if (!process.env.AIRMAIL_ADMIN_TOKEN?.trim() && !publishers.length && !isLoopback(values.host)) {
    // A js envelope is code that every engine deploying it runs with the engine's own privileges.
    throw new UsageError(`registry serve --host ${values.host}: without AIRMAIL_ADMIN_TOKEN anyone who reaches the registry could publish, and a js envelope is code the engines run; set AIRMAIL_ADMIN_TOKEN or AIRMAIL_PUBLISHER_TOKENS (publishing, aliases and metrics then need one as a bearer token) or keep the default --host 127.0.0.1`);
  }
  const store = await RegistryStore.open(values.root, { create: true });
  const stopping = new AbortController();
  const app = createRegistryApp(store, { signal: stopping.signal });
  // Slow clients are cut off as the engine's are: headers within 10 s (slowloris); a whole request
  // within 5 minutes, since a publish uploads an artifact. Watchers' long polls are responses, not bounded here.
  const { server, port } = await listen(app.fetch, { port: Number(values.port), host: values.host, headersTimeoutMs: io.timeouts?.headersMs ?? 10_000, requestTimeoutMs: io.timeouts?.requestMs ?? 300_000 });
  const url = `http://${values.host}:${port}`;
  io.out(`registry listening on ${url} (root ${store.root}, ${store.size} envelopes${store.problems.length ? `, ${store.problems.length} files skipped` : ''})`);
  for (const p of store.problems) io.err(`skipped ${p}`);
  io.onListening?.(url);
  const refreshMs = Number(values['refresh-ms']);
  const timer = refreshMs > 0 ? setInterval(() => void store.refresh().catch((e: Error) => io.err(`refresh failed: ${e.message}`)), refreshMs) : undefined;
  await (io.stop ?? new Promise<void>((r) => { process.once('SIGINT', r); process.once('SIGTERM', r); }));
  if (timer) clearInterval(timer);
  // Watchers (engines) hold event streams and long polls open: end them, or close() would wait for them.
  stopping.abort();
  const closed = new Promise<void>((r) => server.close(() => r()));
  const http = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
  http.closeIdleConnections?.();
  // What is still running after a grace period (a publish being checked) is cut off.
  const grace = setTimeout(() => http.closeAllConnections?.(), STOP_GRACE_MS);
  await closed;
  clearTimeout(grace);
  return 0;
}

async function publishCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(args, {
      artifact: { type: 'string' }, flavor: { type: 'string' }, name: { type: 'string' }, description: { type: 'string' },
      tag: { type: 'string', multiple: true }, sample: { type: 'string' }, 'sample-format': { type: 'string' }, metrics: { type: 'string' },
      inputs: { type: 'string' }, outputs: { type: 'string' }, 'feature-source': { type: 'string' }, package: { type: 'string', multiple: true },
      language: { type: 'string' }, 'language-version': { type: 'string' }, sha256: { type: 'string' }, registry: { type: 'string' },
      create: { type: 'boolean' },
  });
  if (!values.artifact || !values.flavor) throw new UsageError('publish needs --artifact FILE and --flavor onnx|js');
  for (const k of ['artifact', 'sample', 'metrics'] as const) {
    const f = values[k];
    if (f !== undefined && !existsSync(f)) throw new UsageError(`--${k} ${f}: no such file`);
  }
  const flavor = oneOf(values.flavor, FLAVORS, '--flavor')!;
  const sampleFormat = oneOf(values['sample-format'], SAMPLE_FORMATS, '--sample-format');
  const sha256 = sha256Arg(values.sha256);
  if (values.name !== undefined) asUsage(() => assertSafeName(values.name, 'model name'), '--name');
  const pairs: [string, string][] = [];
  for (const t of values.tag ?? []) {
    const i = t.indexOf('=');
    if (i <= 0) throw new UsageError(`--tag ${JSON.stringify(t)} must be key=value`);
    const key = t.slice(0, i);
    const bad = reservedKeyProblem(key, 'tag key') ?? (/^[A-Za-z0-9._-]{1,128}$/.test(key) ? undefined : `tag key ${JSON.stringify(key)} is not 1-128 of [A-Za-z0-9._-]`);
    if (bad) throw new UsageError(`--tag ${JSON.stringify(t)}: ${bad}`);
    if (t.length - i - 1 > 4096) throw new UsageError(`--tag ${key}=…: a tag value is at most 4096 characters`);
    pairs.push([key, t.slice(i + 1)]);
  }
  // Defined, not assigned: `--tag __proto__=x` stays a tag key (refused by the publish checks), not a prototype set and dropped.
  const tags: Record<string, string> = Object.fromEntries(pairs);
  let featureSource;
  if (values['feature-source']) {
    const [dataset, key] = values['feature-source'].split(':');
    if (!dataset || !key) throw new UsageError('--feature-source must be dataset:key');
    featureSource = { dataset, key };
  }
  const inputs = columns(values.inputs, '--inputs');
  const outputs = values.outputs === undefined ? undefined : asUsage(() => parseOutputList(values.outputs!, COLUMN_TYPES), '--outputs');
  const req = await buildPublishRequest({
    artifact: values.artifact,
    flavor,
    name: values.name ?? '',
    description: values.description ?? '',
    tags,
    ...(values.sample ? { sample: values.sample } : {}),
    ...(sampleFormat ? { sampleFormat } : {}),
    ...(values.metrics ? { metrics: values.metrics } : {}),
    ...(inputs ? { inputs } : {}),
    ...(outputs ? { outputs } : {}),
    ...(featureSource ? { featureSource } : {}),
    ...(values.package ? { packages: values.package } : {}),
    ...(sha256 ? { sha256 } : {}),
    ...(values.language ? { context: { language: values.language, ...(values['language-version'] ? { languageVersion: values['language-version'] } : {}) } } : {}),
    onWarning: (m) => io.err(`warning: ${m}`),
  });
  const reg = await openRegistry(registryLocation(values.registry, values.create === true, true), { create: values.create === true });
  try {
    const env = await reg.publish(req);
    io.out(JSON.stringify({ name: env.name, version: env.version, sha256: env.function.artifact.sha256, inputs: env.function.inputs.length, outputs: env.function.outputs.map((o) => o.name) }));
    return 0;
  } finally {
    await reg.close();
  }
}

async function readCommand(sub: string, args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseFlags(args, { registry: { type: 'string' }, limit: { type: 'string' }, query: { type: 'string' }, name: { type: 'string' }, version: { type: 'string' }, alias: { type: 'string' } }, sub === 'metrics' ? 3 : sub === 'alias' ? 3 : sub === 'query' ? 1 : 0);
  const limit = values.limit === undefined ? undefined : /^[1-9][0-9]*$/.test(values.limit) ? Number(values.limit) : undefined;
  if (values.limit !== undefined && limit === undefined) throw new UsageError(`--limit must be a positive whole number, not ${JSON.stringify(values.limit)}`);
  const version = values.version === undefined ? undefined : versionArg(values.version);
  const q = sub === 'query' ? positionals[0] ?? values.query ?? '' : values.query;
  if (q !== undefined && q.trim() !== '') asUsage(() => parseQuery(q), 'the tag query');
  const name = sub === 'alias' || sub === 'metrics' ? positionals[0] : values.name;
  if (name !== undefined) asUsage(() => assertSafeName(name, 'model name'), 'NAME');
  const alias = sub === 'alias' ? positionals[1] : values.alias;
  if (alias !== undefined) asUsage(() => assertAliasName(alias), 'ALIAS');
  let file: string | undefined;
  if (sub === 'metrics') {
    if (positionals.length !== 3) throw new UsageError('metrics needs NAME VERSION FILE');
    versionArg(positionals[1]!);
    if (!existsSync((file = positionals[2]!))) throw new UsageError(`metrics FILE ${file}: no such file`);
  }
  const reg = await openRegistry(registryLocation(values.registry));
  try {
    if (sub === 'query') {
      const list = await reg.query(q ?? '', limit !== undefined ? { limit } : {});
      for (const s of list) io.out(JSON.stringify(s));
    } else if (sub === 'resolve') {
      let spec: ResolveSpec;
      if (values.query !== undefined) spec = version === undefined ? { query: values.query } : { query: values.query, version };
      else if (values.name && values.alias) spec = { name: values.name, alias: values.alias };
      else if (values.name && version !== undefined) spec = { name: values.name, version };
      else throw new UsageError('resolve needs --query Q [--version V], or --name N with --version V or --alias A');
      io.out(JSON.stringify(await reg.resolve(spec), null, 1));
    } else if (sub === 'alias') {
      const [name, alias, version] = positionals;
      if (!name || !alias || !version) throw new UsageError('alias needs NAME ALIAS VERSION');
      await reg.setAlias(name, alias, versionArg(version));
      io.out(JSON.stringify({ name, alias, version: Number(version) }));
    } else {
      const [name, v] = [positionals[0]!, versionArg(positionals[1]!)];
      let metrics: unknown;
      try { metrics = JSON.parse(await readFile(file!, 'utf8')); } catch (err) {
        throw new RegistryError('METRIC_INVALID', `cannot read metrics file ${file}: ${(err as Error).message}`);
      }
      // Checked here too: JSON on the wire would turn 1e400 into null and the registry would quote that.
      assertValidMetrics(metrics);
      const env = await reg.addMetrics(name, v, metrics);
      io.out(JSON.stringify({ name, version: env.version, metrics: Object.keys(env.metrics) }));
    }
    return 0;
  } finally {
    await reg.close();
  }
}

const SUBCOMMANDS: readonly string[] = ['serve', 'query', 'resolve', 'alias', 'metrics'];

/** argv without node and script: ['registry', 'serve', …] or ['publish', …]. */
export async function registryCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  try {
    if (cmd === 'publish') return await publishCommand(argv.slice(1), io);
    if (cmd === 'registry' && sub === 'serve') return await serveCommand(rest, io);
    if (cmd === 'registry' && (sub === 'query' || sub === 'resolve' || sub === 'alias' || sub === 'metrics')) return await readCommand(sub, rest, io);
    if (cmd === 'registry' && sub === undefined) throw new UsageError('needs a subcommand: serve, query, resolve, alias or metrics');
    throw new UsageError(`unknown subcommand '${sub ?? ''}': use serve, query, resolve, alias or metrics`);
  } catch (err) {
    // Named like every other command's lines: `airmail publish: ...`, `airmail registry query: ...`.
    const who = `airmail ${cmd === 'registry' && sub !== undefined && SUBCOMMANDS.includes(sub) ? `registry ${sub}` : cmd ?? ''}`;
    if (err instanceof UsageError) {
      io.err(`${who}: ${err.message}\n${USAGE}`);
      return 2;
    }
    const e = asRegistryError(err);
    io.err(`${who}: error ${e.code}: ${e.message}`);
    return 1;
  }
}
