/**
 * A pipeline sent over HTTP (POST /execute, admin POST /pipelines, POST /validate) whose ModelScore
 * names registry tags that match no envelope is refused with the registry's "nothing matches" error
 * (422 MODEL_LOAD_FAILED, naming the query) and changes nothing: GET /pipelines answers the same, no
 * file is written in the configs directory, and the model serving a loaded pipeline keeps serving.
 * (Only tested at config load before; the HTTP routes compile the same way, and this holds them to it.)
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { server } from './helpers.js';

const TOKEN = 'unmatched-tags-token';
const W = 'export function predict(c, n) { return { y: Float64Array.from(c.w, (w) => 2 * w) }; }';
let dir: string;
let configs: string;
let srv: RunningServer | undefined;

const pipeline = (name: string, tags: Record<string, string>): Record<string, unknown> => ({
  name, item_type: 'id',
  initialization: { includes: [{ name: 'Static', parameters: { items: [1, 2] } }], scores: [{ name: 'ModelScore', as: 'y', parameters: { model: { tags } } }] },
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${srv!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function files(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of (await readdir(configs)).sort()) out[n] = await readFile(join(configs, n), 'utf8');
  return out;
}

async function reloadsCounted(): Promise<number> {
  const text = await (await fetch(`${srv!.url}/metrics`)).text();
  return [...text.matchAll(/^airmail_config_reloads_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

beforeAll(async () => {
  dir = await tempDir('airmail-posted-unmatched-');
  const root = join(dir, 'registry');
  const store = await RegistryStore.open(root, { create: true });
  await publishModel({ artifact: new TextEncoder().encode(W), flavor: 'js', name: 'm', description: 'd', tags: { stage: 'prod' }, sample: [{ w: 1 }] }, store);
  configs = join(dir, 'configs');
  await mkdir(configs);
  await writeFile(join(configs, 'items.json'), JSON.stringify([{ id: 1, w: 0.5 }, { id: 2, w: 0.25 }]));
  await writeFile(join(configs, 'data.yaml'), 'datasets:\n  items: {path: items.json, key: id}\n');
  await writeFile(join(configs, 'scored.yaml'), `pipeline: ${JSON.stringify(pipeline('scored', { name: 'm', stage: 'prod' }))}\n`);
  srv = await server({ configs, threads: 0, registry: root, adminToken: TOKEN, reloadSettleMs: 0, modelHub: { cacheDir: join(dir, 'cache'), pollMs: 50 } });
  expect(srv.startErrors).toEqual([]);
}, 30_000);
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

const GHOST = { name: 'm', stage: 'staging' };
const NOTHING = /nothing matches .*name=m.*stage=staging|nothing matches .*stage=staging/;

describe('a posted pipeline naming tags that match nothing', () => {
  it.each([
    ['POST /execute', 'POST', '/execute', { pipeline: pipeline('ghost', GHOST), inputs: {} }],
    ['admin POST /pipelines (a new pipeline)', 'POST', '/pipelines', { pipeline: pipeline('ghost', GHOST) }],
    ['admin POST /pipelines (replacing a loaded one)', 'POST', '/pipelines', { pipeline: pipeline('scored', GHOST) }],
    ['POST /validate', 'POST', '/validate', { pipeline: pipeline('ghost', GHOST) }],
  ])('%s is a 422 saying nothing matches, and nothing changes', async (_what, method, path, body) => {
    const listed = await call('GET', '/pipelines');
    const before = await files();
    const r = await call(method, path, body);
    expect(r.status, JSON.stringify(r.json)).toBe(422);
    expect(r.json['code']).toBe('MODEL_LOAD_FAILED');
    expect(String(r.json['reason'])).toMatch(NOTHING);
    // What serves, what is rejected and the reload history stay as they were: a refused admin
    // request is answered (and audited), not kept. It once left a `kind: rejected` reload naming
    // ghost.yaml, a file never written, and a `config reload rejected` log line and count.
    const state = (j: Record<string, unknown>): unknown => ({ pipelines: j['pipelines'], experiments: j['experiments'], rejections: j['rejections'], reloads: j['reloads'] });
    expect(state((await call('GET', '/pipelines')).json)).toEqual(state(listed.json));
    expect(await files()).toEqual(before);
    expect(await reloadsCounted()).toBe(0);
    expect(srv!.engine.snapshot.pipelines.has('ghost')).toBe(false);
    const run = await call('POST', '/pipelines/scored', {});
    expect(run.status).toBe(200);
    expect(run.json['models']).toEqual({ y: 'm@1' });
  });
});
