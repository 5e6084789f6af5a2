/**
 * HttpSource `headers:` carry credentials (`authorization: Bearer ...`). They were shown whole on the
 * public routes: GET /pipelines/{name}/explain, the describe answer, ?debug=true traces, why answers
 * and the reason of a failed fetch. `{env:NAME}` was not expanded in them (the literal text reached
 * the upstream), and an unset `{env:NAME}` without a default anywhere in a remote source passed
 * validation and was sent as it stands. Now: header values expanded at load and shown as `***`, and
 * an unset variable is a load error naming it.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigSet } from '../engine/config/load.js';
import type { RunningServer } from '../engine/server.js';
import { OPS, server } from './helpers.js';

const LITERAL = 'literal-k3y-9d1e';
const FROM_ENV = 'env-t0ken-4b7c';
let upstream: Server;
let upstreamUrl: string;
const seen: IncomingHttpHeaders[] = [];
let srv: RunningServer;

async function get(path: string, method = 'GET', body?: unknown): Promise<string> {
  const res = await request(`${srv.url}${path}`, { method: method as 'GET', headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return res.body.text();
}

beforeAll(async () => {
  process.env['AIRMAIL_HEADER_TEST_TOKEN'] = FROM_ENV;
  upstream = createServer((req, res) => {
    seen.push(req.headers);
    if (req.url?.startsWith('/broken')) return void res.writeHead(500).end('no');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ sku: 1 }, { sku: 2 }]));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const configs = await mkdtemp(join(tmpdir(), 'airmail-header-secrets-'));
  await writeFile(join(configs, 'p.yaml'), `
operators:
  Up: {use: HttpSource, parameters: {url: '${upstreamUrl}/items', column: sku, headers: {x-api-key: ${LITERAL}, authorization: 'Bearer {env:AIRMAIL_HEADER_TEST_TOKEN}'}}}
  Broken: {use: HttpSource, parameters: {url: '${upstreamUrl}/broken', column: sku, retries: 0, headers: {x-api-key: ${LITERAL}}}}
pipelines:
- {name: up, item_type: sku, initialization: {includes: [Up]}}
- {name: broken, item_type: sku, initialization: {includes: [Broken]}}
`);
  srv = await server({ configs, threads: 0, watch: false });
  expect(srv.startErrors).toEqual([]);
});

afterAll(async () => {
  await srv?.close();
  await new Promise((r) => upstream?.close(r));
  delete process.env['AIRMAIL_HEADER_TEST_TOKEN'];
});

describe('HttpSource headers', () => {
  it('expand {env:NAME} and reach the upstream', async () => {
    expect(JSON.parse(await get('/pipelines/up', 'POST', {}))).toMatchObject({ error: false, items: [{ sku: 1 }, { sku: 2 }] });
    expect(seen.at(-1)).toMatchObject({ 'x-api-key': LITERAL, authorization: `Bearer ${FROM_ENV}` });
  });

  it('are never shown: explain, describe, debug trace, why, failure reason', async () => {
    const answers = [
      await get('/pipelines/up/explain'),
      await get('/pipelines/up'),
      await get('/pipelines/up?debug=true', 'POST', {}),
      await get('/pipelines/up/why', 'POST', { inputs: {}, item: 1 }),
      await get('/pipelines/broken', 'POST', {}),
    ];
    expect(answers[0]).toContain('"x-api-key":"***"');
    expect(JSON.parse(answers[4]!)).toMatchObject({ error: true, code: 'SOURCE_FAILED' });
    for (const text of answers) {
      expect(text).not.toContain(LITERAL);
      expect(text).not.toContain(FROM_ENV);
    }
  });
});

describe('an unset {env:NAME} without a default', () => {
  it('is a load error naming the variable, in an HttpSource url or header and a RedisSource url (at the preset that writes it)', async () => {
    const text = `
operators:
  A: {use: HttpSource, parameters: {url: 'http://127.0.0.1:1/items?k={env:AIRMAIL_TEST_UNSET_A}', column: sku, headers: {authorization: 'Bearer {env:AIRMAIL_TEST_UNSET_B}'}}}
  R: {use: RedisSource, parameters: {key: k, type: set, url: '{env:AIRMAIL_TEST_UNSET_C}'}}
  D: {use: HttpSource, parameters: {url: 'http://127.0.0.1:1/items?k={env:AIRMAIL_TEST_UNSET_A|x}', column: sku}}
pipeline: {name: p, item_type: sku, initialization: {includes: [A, R, D]}}
`;
    const r = await loadConfigSet([{ path: '/configs/p.yaml', text }], { operators: OPS });
    expect(r.ok).toBe(false);
    const found = r.ok ? [] : r.diagnostics.map((d) => [d.pointer, d.message.replace(/^.*?: (?=environment)/, '')]);
    expect(found).toEqual([
      ['/operators/A/parameters/url', "environment variable AIRMAIL_TEST_UNSET_A is not set, and '{env:AIRMAIL_TEST_UNSET_A}' has no default (write '{env:AIRMAIL_TEST_UNSET_A|default}' for one)"],
      ['/operators/A/parameters/headers/authorization', "environment variable AIRMAIL_TEST_UNSET_B is not set, and '{env:AIRMAIL_TEST_UNSET_B}' has no default (write '{env:AIRMAIL_TEST_UNSET_B|default}' for one)"],
      ['/operators/R/parameters/url', "environment variable AIRMAIL_TEST_UNSET_C is not set, and '{env:AIRMAIL_TEST_UNSET_C}' has no default (write '{env:AIRMAIL_TEST_UNSET_C|default}' for one)"],
    ]);
  });
});
