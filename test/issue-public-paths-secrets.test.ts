/**
 * What an anonymous client and a log reader learn. Found driving a server with a token, a registry
 * URL with credentials and configs holding a URL password and a header secret:
 * - GET /pipelines (public) showed each pipeline's `file`, its rejections and its reloads with the
 *   server's absolute paths (/srv/.../configs/shop.yaml), and so did error bodies (409
 *   CONFIG_CONFLICT's `errors[].file`, dataset messages `looked for /srv/.../data/x.json`) and the
 *   reload log lines, while explain, spans and ?debug name files relative to the configs directory;
 * - GET /operators showed every preset's parameters as written: `http://user:<password>@host` and
 *   literal `headers:` values, which explain, debug and reasons hide;
 * - a registry URL's user info was in REGISTRY_UNAVAILABLE reasons (`registry http://u:<pw>@host
 *   unreachable`), answered to /execute and logged;
 * - a remote fetch span's `airmail.source` was the operator's label as given (a custom operator may
 *   put its URL there), where /metrics redacts it.
 * Every public answer, log line, audit line and span below is checked for them.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import { startOtlpSink, type OtlpSink } from '../engine/observe/otlp-sink.js';
import { Tracing } from '../engine/observe/tracing.js';
import type { RunningServer } from '../engine/server.js';
import { FileRegistry } from '../registry-client/file-registry.js';
import { ROOT, server, tempDir } from './helpers.js';

const URL_PW = 'urlpw-7c1e0a';
const QUERY = 'qsecret-41bd2f';
const HEADER = 'hdrsecret-9a0c33';
const REG_PW = 'regpw-5d2e71';
const TOKEN = 'admin-token-3f9b8c7d';
const SECRETS = [URL_PW, QUERY, HEADER, REG_PW, TOKEN];

// A custom source that names its fetch by its URL (as an operator author may).
const LEAKY = `import { defineOperator } from ${JSON.stringify(join(ROOT, 'engine/api.ts'))};
export const leaky = defineOperator({
  kind: 'source', name: 'Leaky', summary: 'Fetches from a URL that holds a password.',
  parameters: { type: 'object', properties: {}, additionalProperties: false },
  async run(_p, ctx) {
    const url = 'http://u:${URL_PW}@127.0.0.1:1/x?k=${QUERY}';
    await ctx.remote({ request: { kind: 'http', url, retries: 0, timeoutMs: 200 }, cache: { ttlMs: 1000 }, source: 'Leaky ' + url });
    return { ids: [] };
  },
});
`;

let configs: string;
let audit: string;
let srv: RunningServer;
let sink: OtlpSink;
let tracing: Tracing;
const lines: string[] = [];
const answers: { what: string; status: number; text: string }[] = [];

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}, base = srv.url): Promise<{ status: number; text: string }> {
  const res = await request(`${base}${path}`, { method: method as 'GET', headers: { 'content-type': 'application/json', ...headers }, ...(body !== undefined ? { body } : {}) });
  const text = await res.body.text();
  answers.push({ what: `${method} ${path} -> ${res.statusCode}`, status: res.statusCode, text });
  return { status: res.statusCode, text };
}

beforeAll(async () => {
  configs = await tempDir('airmail-public-paths-');
  audit = join(await tempDir('airmail-public-audit-'), 'audit.jsonl');
  await mkdir(join(configs, 'data'));
  await mkdir(join(configs, 'ops'));
  await writeFile(join(configs, 'ops', 'leaky.ts'), LEAKY);
  await writeFile(join(configs, 'data', 'items.json'), JSON.stringify([{ id: 1, cat: 'a', price: 3 }, { id: 2, cat: 'b', price: 5 }, { id: 3, cat: 'a', price: 1 }]));
  await writeFile(join(configs, 'shop.yaml'), `operator_paths: [./ops]
datasets:
  items: {path: data/items.json, key: id}
operators:
  Cheap: {use: Lookup, parameters: {dataset: items, where: {cat: $cat}}}
  Remote:
    use: HttpSource
    parameters: {url: 'http://user:${URL_PW}@127.0.0.1:1/inv?key=${QUERY}&c={cat}', vars: {cat: $cat}, column: id, headers: {x-api-key: ${HEADER}}, timeout_ms: 200, retries: 0}
pipelines:
- {name: cheap, item_type: id, inputs: {cat: {type: string}}, initialization: {includes: [Cheap]}, return: [id, price]}
- {name: remote, item_type: id, inputs: {cat: {type: string}}, initialization: {includes: [Remote]}}
- {name: leaky, item_type: id, initialization: {includes: [Leaky]}}
`);
  // Rejected at start: a missing dataset file (its message names where it looked) and an unknown operator.
  await writeFile(join(configs, 'broken.yaml'), `datasets:
  gone: {path: data/missing.json, key: id}
pipeline: {name: broken, item_type: id, initialization: {includes: [Nope]}}
`);
  sink = await startOtlpSink();
  tracing = new Tracing({ url: sink.url, delayMs: 20, timeoutMs: 500 });
  const logger = new Logger({ level: 'info', sink: { write: (s: string) => void lines.push(s) }, pretty: false });
  srv = await server({
    configs, threads: 1, watch: false, adminToken: TOKEN, auditLog: audit,
    registry: `http://reguser:${REG_PW}@127.0.0.1:1/`, modelHub: { cacheDir: join(configs, '..', 'cache-public-paths'), log: () => undefined },
    observe: new Observability({ metrics: new EngineMetrics(), logger, tracing }),
  });
  expect(srv.startErrors.length).toBeGreaterThan(0);
  const admin = { authorization: `Bearer ${TOKEN}` };
  await call('GET', '/pipelines');
  await call('GET', '/pipelines/cheap');
  await call('GET', '/pipelines/remote');
  await call('GET', '/pipelines/remote/explain');
  await call('GET', '/pipelines/remote?cat=a&debug=true');
  await call('GET', '/pipelines/leaky/run?debug=true');
  await call('POST', '/pipelines/remote/why', JSON.stringify({ inputs: { cat: 'a' }, item: 1 }));
  await call('GET', '/operators');
  await call('GET', '/operators/Remote');
  await call('GET', '/models');
  await call('GET', '/ui');
  await call('GET', '/ui/stats');
  await call('GET', '/openapi.json');
  await call('GET', '/docs');
  await call('GET', '/ready');
  // Error bodies: 400, 404, 405, 409, 413, 415, 422, 502.
  await call('POST', '/pipelines/cheap', '{"cat":');
  await call('GET', '/pipelines/none');
  await call('PUT', '/pipelines/cheap');
  await call('POST', '/pipelines/cheap', 'x', { 'content-type': 'text/plain' });
  await call('POST', '/pipelines/cheap', 'x'.repeat(1024 * 1024 + 10));
  await call('POST', '/pipelines/cheap', '{"nope": 1}');
  await call('POST', '/validate', JSON.stringify({ pipeline: { name: 'cheap', item_type: 'id', initialization: { includes: ['Cheap'] } } }));
  await call('POST', '/validate', JSON.stringify({ pipeline: { name: 'x', item_type: 'id', initialization: { includes: ['Nope'] } } }));
  await call('POST', '/pipelines', JSON.stringify({ pipeline: { name: 'cheap', item_type: 'id', initialization: { includes: ['Cheap'] } } }), admin);
  await call('POST', '/pipelines', JSON.stringify({ pipeline: { name: 'n2', item_type: 'id', initialization: { includes: ['Nope'] } } }), admin);
  await call('POST', '/pipelines', '{}', { authorization: 'Bearer wrong' });
  await call('POST', '/execute', JSON.stringify({ pipeline: { name: 'x', item_type: 'id', initialization: { includes: ['Cheap'], scores: [{ name: 'ModelScore', as: 's', parameters: { model: { tags: { name: 'psale' } }, features: {} } }] } }, inputs: { cat: 'a' } }));
  await call('GET', '/metrics');
  await tracing.forceFlush();
});

afterAll(async () => {
  await srv?.close();
  await tracing?.shutdown();
  await sink?.close();
});

/** What in `text` gives away the server's own paths or a secret. */
function leaks(text: string): string[] {
  const found: string[] = [];
  if (text.includes(configs)) found.push(`the configs directory ${configs}`);
  if (text.includes(`${tmpdir()}/airmail-`)) found.push('a temp folder');
  for (const s of SECRETS) if (text.includes(s)) found.push(`secret ${s}`);
  return found;
}

describe('public answers', () => {
  it('name files relative to the configs directory and hold no secret', () => {
    const bad = answers.map((a) => ({ what: a.what, leaks: leaks(a.text) })).filter((a) => a.leaks.length > 0);
    expect(bad).toEqual([]);
    // The statuses the sweep meant to reach were reached.
    expect(answers.map((a) => a.status)).toEqual(expect.arrayContaining([200, 400, 401, 404, 405, 409, 413, 415, 422, 502]));
  });

  it('GET /pipelines: file, rejections and reloads name configs-relative files', async () => {
    const body = JSON.parse(answers[0]!.text) as { pipelines: { name: string; file: string }[]; rejections: { files: string[]; diagnostics: { file: string; message: string }[] }[]; reloads: { files: string[] }[] };
    expect(body.pipelines.map((p) => p.file)).toEqual(['shop.yaml', 'shop.yaml', 'shop.yaml']);
    expect(body.rejections[0]!.files).toEqual(['broken.yaml']);
    expect(body.rejections[0]!.diagnostics.map((d) => d.file)).toEqual(expect.arrayContaining(['broken.yaml']));
    expect(body.rejections[0]!.diagnostics.map((d) => d.message).join('\n')).toContain('looked for data/missing.json');
    expect(body.reloads.flatMap((r) => r.files)).toContain('broken.yaml');
    expect(JSON.parse(answers[1]!.text)).toMatchObject({ name: 'cheap', file: 'shop.yaml' });
  });

  it('GET /operators shows preset parameters as explain does: URL and header secrets hidden', () => {
    const preset = (JSON.parse(answers.find((a) => a.what.startsWith('GET /operators/Remote'))!.text) as { preset: { parameters: Record<string, unknown> } }).preset;
    expect(preset.parameters).toMatchObject({ url: 'http://***@127.0.0.1:1/inv?***', headers: { 'x-api-key': '***' }, column: 'id' });
  });

  it('a 409 CONFIG_CONFLICT names the file it conflicts with relative to the configs directory', () => {
    const conflict = JSON.parse(answers.find((a) => a.status === 409)!.text) as { errors: { file: string }[] };
    expect(conflict.errors[0]!.file).toBe('shop.yaml');
  });
});

describe('logs, audit log and spans', () => {
  it('log lines name configs-relative files and hold no secret', () => {
    expect(lines.some((l) => l.includes('config rejected at startup') && l.includes('broken.yaml:'))).toBe(true);
    expect(lines.map((l) => ({ l: l.slice(0, 200), leaks: leaks(l) })).filter((x) => x.leaks.length > 0)).toEqual([]);
  });

  it('the audit log holds no token and no secret', async () => {
    const text = await readFile(audit, 'utf8');
    expect(text.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(3);
    expect(leaks(text)).toEqual([]);
  });

  it('spans (remote fetches of a custom source included) hold no secret and no server path', () => {
    const text = JSON.stringify(sink.spans);
    expect(sink.spans.some((s) => s.name === 'remote fetch')).toBe(true);
    expect(leaks(text)).toEqual([]);
  });
});

describe('a folder registry', () => {
  // Its own absolute path was in "no model for tags:name=nope in the registry at /srv/registry", a 422
  // answered to /execute, POST /validate and GET /pipelines' rejections.
  it('is not named by its path in answers', async () => {
    const home = await tempDir('airmail-folder-registry-');
    const registry = join(home, 'registry');
    await FileRegistry.open(registry, { create: true });
    await mkdir(join(home, 'configs'));
    await writeFile(join(home, 'configs', 'scored.yaml'), 'pipeline: {name: scored, item_type: id, initialization: {includes: [{name: Static, parameters: {items: [1]}}], scores: [{name: ModelScore, parameters: {model: {tags: {name: nope}}, features: [$a]}}]}}\n');
    const reg = await server({ configs: join(home, 'configs'), threads: 0, watch: false, adminToken: TOKEN, registry, modelHub: { cacheDir: join(home, 'cache'), log: () => undefined }, observe: new Observability({ metrics: new EngineMetrics() }) });
    try {
      const pipeline = { name: 'x', item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [1] } }], scores: [{ name: 'ModelScore', parameters: { model: { tags: { name: 'nope' } }, features: ['$a'] } }] } };
      const got = [
        await call('POST', '/execute', JSON.stringify({ pipeline, inputs: { a: 1 } }), {}, reg.url),
        await call('POST', '/validate', JSON.stringify({ pipeline }), { authorization: `Bearer ${TOKEN}` }, reg.url),
        await call('GET', '/pipelines', undefined, {}, reg.url),
      ];
      expect(got.map((g) => g.status)).toEqual([422, 422, 200]);
      for (const g of got) {
        expect(g.text).toContain('no model for tags:name=nope in the folder registry');
        expect(g.text).not.toContain(registry);
        expect(leaks(g.text)).toEqual([]);
      }
    } finally {
      await reg.close();
    }
  });
});
