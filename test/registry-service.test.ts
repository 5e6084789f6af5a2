/**
 * The registry service over real HTTP, the undici client (content-addressed cache, watch by long
 * poll with a polling fallback) and the file:// reader: the same answers through both.
 */
import { once } from 'node:events';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVELOPE_FORMAT, type Envelope, type EnvelopeDraft } from '../engine/registry/envelope.js';
import { sha256Hex } from '../engine/registry/function.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { createRegistryApp } from '../engine/registry/service.js';
import { RegistryClient } from '../registry-client/client.js';
import { FileRegistry } from '../registry-client/file-registry.js';
import { openRegistry } from '../registry-client/open.js';
import type { RegistryReader } from '../registry-client/reader.js';

const TOKEN = 'test-admin-token';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function draft(name: string, tags: Record<string, string>, bytes: Uint8Array): EnvelopeDraft {
  return {
    format: ENVELOPE_FORMAT,
    name,
    function: { flavor: 'js', artifact: { sha256: sha256Hex(bytes), size: bytes.length }, inputs: [{ name: 'x', type: 'float64' }], outputs: [{ name: 'y', type: 'float64' }] },
    context: { runtime: 'node', runtimeVersion: process.version, language: 'javascript', packages: {} },
    index: { ...tags, name, description: `${name} model` },
    data: { rows: 0, features: {} },
    metrics: {},
  };
}

/** A js-flavor model: y = x * k. */
const jsModel = (k: number): Uint8Array => enc(`export function predict(c, rows) { return { y: Float64Array.from(c.x, (v) => v * ${k}) }; }\n`);

let reg: RunningRegistry;
let client: RegistryClient;
let cacheDir: string;

beforeAll(async () => {
  reg = await startRegistry({ adminToken: TOKEN });
  cacheDir = await tempDir('airmail-cache-');
  client = new RegistryClient({ url: reg.url, token: TOKEN, cacheDir });
});
afterAll(async () => {
  await client.close();
  await reg.close();
  await rm(cacheDir, { recursive: true, force: true });
});

async function http(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${reg.url}${path}`, { method: method as 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('registry service over HTTP', () => {
  it('publishes (admin only), lists, gets and serves the artifact', async () => {
    const artifact = jsModel(2);
    const body = JSON.stringify({ flavor: 'js', name: 'double', description: 'y = 2x', tags: { stage: 'prod' }, artifact: Buffer.from(artifact).toString('base64'), sample: [{ x: 1 }, { x: 2 }, { x: 3 }] });
    const denied = await http('POST', '/envelopes', body, { 'content-type': 'application/json' });
    expect(denied.status).toBe(401);
    expect(denied.json).toMatchObject({ error: true, code: 'UNAUTHORIZED', reason: expect.stringContaining('Bearer') });
    const ok = await http('POST', '/envelopes', body, { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(201);
    const env = ok.json as unknown as Envelope;
    expect(env).toMatchObject({ name: 'double', version: 1, function: { flavor: 'js', inputs: [{ name: 'x', type: 'int32' }], outputs: [{ name: 'y', type: 'float64' }] } });
    expect(env.data.features['x']).toMatchObject({ count: 3, mean: 2, min: 1, max: 3 });
    expect(env.context.bundle?.sha256).toBe(sha256Hex(artifact));

    const list = await http('GET', '/envelopes?q=name%3Ddouble');
    expect((list.json['envelopes'] as unknown[]).length).toBe(1);
    const versions = await http('GET', '/envelopes/double');
    expect(versions.json).toMatchObject({ name: 'double', versions: [{ version: 1 }], aliases: {} });
    const got = await http('GET', '/envelopes/double/1');
    expect(got.json['index']).toMatchObject({ name: 'double', stage: 'prod' });
    const art = await request(`${reg.url}/artifacts/${env.function.artifact.sha256}`);
    expect(art.headers['x-airmail-sha256']).toBe(env.function.artifact.sha256);
    expect(new Uint8Array(await art.body.arrayBuffer())).toEqual(artifact);
    expect((await http('GET', '/envelopes/nope')).status).toBe(404);
    expect((await http('GET', '/artifacts/xyz')).json).toMatchObject({ error: true, code: 'NAME_INVALID' });
    expect((await http('GET', '/envelopes?q=name%3D')).status).toBe(200);
    expect((await http('GET', '/envelopes?q=a%20b')).status).toBe(400);
  });

  it('queries by tags, resolves pins and moves aliases', async () => {
    for (const k of [3, 4, 5]) await reg.store.publish(draft('scale', { stage: k === 4 ? 'dev' : 'prod' }, jsModel(k)), jsModel(k));
    const q = await http('GET', `/envelopes?q=${encodeURIComponent('name=scale,stage=prod')}`);
    expect((q.json['envelopes'] as Envelope[]).map((e) => e.version)).toEqual([3, 1]);
    expect((await http('GET', `/resolve?q=${encodeURIComponent('name=scale,stage!=prod')}`)).json['version']).toBe(2);
    expect((await http('GET', `/resolve?q=${encodeURIComponent('name=scale')}&version=1`)).json['version']).toBe(1);
    expect((await http('GET', '/resolve?name=scale&version=9')).status).toBe(404);
    expect((await http('PUT', '/aliases/scale/champion', '{"version": 2}', { authorization: `Bearer ${TOKEN}` })).json).toEqual({ name: 'scale', alias: 'champion', version: 2 });
    expect((await http('GET', '/envelopes/scale/champion')).json['version']).toBe(2);
    expect((await http('PUT', '/aliases/scale/champion', '{"version": 1}')).status).toBe(401);
    await client.setAlias('scale', 'champion', 1);
    expect((await client.resolve({ name: 'scale', alias: 'champion' })).version).toBe(1);
    expect(await client.versions('scale')).toMatchObject({ aliases: { champion: 1 } });
  });

  it('rejects a bad metric and a missing description with clear errors, changing nothing', async () => {
    const before = (await client.query('name=double')).length;
    const base = { flavor: 'js' as const, name: 'double', description: 'y = 2x', artifact: jsModel(2), sample: [{ x: 1 }] };
    await expect(client.publish({ ...base, metrics: { roc: { type: 'roc_curve', fpr: [0, 1], tpr: [0] } } })).rejects.toMatchObject({ code: 'METRIC_INVALID', message: expect.stringContaining('fpr has 2 values but tpr has 1') });
    await expect(client.publish({ ...base, description: '' })).rejects.toMatchObject({ code: 'ENVELOPE_INVALID', message: expect.stringContaining('description') });
    await expect(client.publish({ ...base, sha256: 'b'.repeat(64) })).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    expect((await client.query('name=double')).length).toBe(before);
    await expect(client.addMetrics('double', 1, { auc: 0.9 })).resolves.toMatchObject({ metrics: { auc: 0.9 } });
    await expect(client.addMetrics('double', 1, { auc: 0.8 })).rejects.toMatchObject({ code: 'METRIC_CONFLICT' });
  });
});

describe('RegistryClient', () => {
  it('downloads into a content-addressed cache and serves later reads from it', async () => {
    const env = await client.resolve({ query: { name: 'scale', stage: 'prod' } });
    const path = await client.download(env);
    expect(path).toBe(join(cacheDir, env.function.artifact.sha256));
    expect(sha256Hex(await readFile(path))).toBe(env.function.artifact.sha256);
    // Another client with the same cache folder and no server behind it still reads it (re-hashed once).
    const offline = new RegistryClient({ url: 'http://127.0.0.1:9', cacheDir });
    expect(await offline.download(env)).toBe(path);
    // A corrupted cache entry is dropped, not used.
    await writeFile(path, 'rotten');
    const fresh = new RegistryClient({ url: reg.url, cacheDir });
    expect(sha256Hex(await fresh.readArtifact(env))).toBe(env.function.artifact.sha256);
    await expect(new RegistryClient({ url: 'http://127.0.0.1:9', cacheDir: await tempDir() }).download(env)).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
    await Promise.all([offline.close(), fresh.close()]);
  });

  it('refuses bytes that do not match their sha256 and keeps nothing in the cache', async () => {
    const sha = sha256Hex(enc('the real bytes'));
    const liar = new Hono().get('/artifacts/:sha', (c) => c.body('other bytes', 200, { 'content-type': 'application/octet-stream' }));
    const server = serve({ fetch: liar.fetch, port: 0, hostname: '127.0.0.1' });
    await once(server, 'listening');
    const dir = await tempDir('airmail-cache-');
    const c = new RegistryClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, cacheDir: dir });
    try {
      await expect(c.download({ sha256: sha, size: 14 })).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
      expect(await c.cache.lookup(sha)).toBeUndefined();
    } finally {
      await c.close();
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a stored artifact that went bad as ARTIFACT_CORRUPT from the server', async () => {
    const env = await reg.store.publish(draft('rot', {}, jsModel(9)), jsModel(9));
    await writeFile(join(reg.root, 'artifacts', env.function.artifact.sha256), 'bit rot');
    await expect(client.download(env)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
  });

  it.each([['sse'], ['long-poll']] as const)('watches a tag query (%s) and hears a new version at once', async (mode) => {
    const name = `watched-${mode}`;
    const spec = { query: { name, stage: 'prod' } };
    await reg.store.publish(draft(name, { stage: 'prod' }, jsModel(1)), jsModel(1));
    const first = await client.resolve(spec);
    const seen: (number | null)[] = [];
    const w = client.watch(spec, (e) => seen.push(e?.version ?? null), { since: first, waitMs: 5000, mode });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await reg.store.publish(draft(name, { stage: 'dev' }, jsModel(2)), jsModel(2)); // does not match
    await reg.store.publish(draft(name, { stage: 'prod' }, jsModel(3)), jsModel(3));
    await waitFor(() => seen.length === 1);
    expect(Date.now() - t0).toBeLessThan(1000);
    await reg.store.publish(draft(name, { stage: 'prod' }, jsModel(4)), jsModel(4));
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual([3, 4]);
    expect(w.mode).toBe(mode);
    w.close();
    await w.closed;
  });

  it('streams by default, and falls back to long polls when the server has no event stream', async () => {
    const outer = new Hono();
    outer.get('/watch/events', (c) => c.json({ error: { code: 'NOT_FOUND', message: 'no route' } }, 404));
    outer.route('/', createRegistryApp(reg.store, { adminToken: TOKEN }));
    const server = serve({ fetch: outer.fetch, port: 0, hostname: '127.0.0.1' });
    await once(server, 'listening');
    const direct = client.watch({ query: 'name=streamed' }, () => undefined, { since: null });
    const c = new RegistryClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, cacheDir });
    const seen: number[] = [];
    const w = c.watch({ query: 'name=streamed' }, (e) => { if (e) seen.push(e.version); }, { since: null, waitMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    await reg.store.publish(draft('streamed', {}, jsModel(1)), jsModel(1));
    await waitFor(() => seen.length > 0);
    expect(seen).toEqual([1]);
    expect(direct.mode).toBe('sse');
    expect(w.mode).toBe('long-poll');
    for (const h of [w, direct]) { h.close(); await h.closed; }
    await c.close();
    await new Promise<void>((r) => { (server as { closeAllConnections?: () => void }).closeAllConnections?.(); server.close(() => r()); });
  });

  it('falls back to polling when the server has neither /watch/events nor /watch', async () => {
    const outer = new Hono();
    outer.get('/watch/events', (c) => c.json({ error: { code: 'NOT_FOUND', message: 'no route' } }, 404));
    outer.get('/watch', (c) => c.json({ error: { code: 'NOT_FOUND', message: 'no route' } }, 404));
    outer.route('/', createRegistryApp(reg.store, { adminToken: TOKEN }));
    const server = serve({ fetch: outer.fetch, port: 0, hostname: '127.0.0.1' });
    await once(server, 'listening');
    const c = new RegistryClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, cacheDir });
    const seen: number[] = [];
    const w = c.watch({ query: 'name=polled' }, (e) => { if (e) seen.push(e.version); }, { since: null, pollMs: 50 });
    await reg.store.publish(draft('polled', {}, jsModel(1)), jsModel(1));
    await waitFor(() => seen.length > 0);
    expect(seen).toEqual([1]);
    expect(w.mode).toBe('poll');
    w.close();
    await w.closed;
    await c.close();
    await new Promise<void>((r) => { (server as { closeAllConnections?: () => void }).closeAllConnections?.(); server.close(() => r()); });
  });
});

describe('file:// registry', () => {
  it('reads the same folder the server writes, with the same answers', async () => {
    const file = await openRegistry(pathToFileURL(reg.root).href);
    expect(file).toBeInstanceOf(FileRegistry);
    const readers: RegistryReader[] = [file, client];
    const answers = await Promise.all(readers.map(async (r) => (await r.query('name=scale,stage=prod')).map((s) => s.version)));
    expect(answers[0]).toEqual(answers[1]);
    const env = await file.resolve({ name: 'scale', alias: 'champion' });
    expect(env.version).toBe(1);
    expect(sha256Hex(await file.readArtifact(env))).toBe(env.function.artifact.sha256);
    expect(await file.download(env)).toBe(join(reg.root, 'artifacts', env.function.artifact.sha256));
    await file.close();
  });

  it('watches by polling the folder and sees a publish from another process', async () => {
    const file = await FileRegistry.open(reg.root);
    const seen: number[] = [];
    const w = file.watch({ query: 'name=folder' }, (e) => { if (e) seen.push(e.version); }, { since: null, pollMs: 50 });
    await reg.store.publish(draft('folder', {}, jsModel(1)), jsModel(1)); // the server's store object, not this one
    await waitFor(() => seen.length > 0);
    expect(seen).toEqual([1]);
    w.close();
    await w.closed;
  });

  it('rejects unknown schemes and missing folders', async () => {
    await expect(openRegistry('ftp://x/y')).rejects.toMatchObject({ code: 'QUERY_INVALID' });
    await expect(openRegistry('/nonexistent/registry/folder')).rejects.toMatchObject({ code: 'ENVELOPE_NOT_FOUND' });
    await expect(openRegistry('')).rejects.toThrow(/no registry given/);
  });
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
