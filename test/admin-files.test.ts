/**
 * Admin POST /pipelines and DELETE against the files of the configs
 * directory: a pipeline is written to a file of its own, a file that holds
 * anything else is never overwritten (409, nothing changes), and the text is
 * checked and saved as sent.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

const TOKEN = 'admin-files-token';
let srv: RunningServer;
let dir: string;

async function call(method: string, path: string, body?: string, type = 'application/yaml'): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${srv.url}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': type } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const pipeline = (name: string, n = 3): string => `# ${name}: kept as written\npipeline:\n  name: ${name}\n  item_type: sku_id\n  initialization:\n    includes: [AvailableInventory]   # the demo preset\n  operations:\n  - {name: Limit, parameters: {n: ${n}}}\n`;

async function snapshotOfDir(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of (await readdir(dir)).sort()) if (n.endsWith('.yaml')) out[n] = await readFile(join(dir, n), 'utf8');
  return out;
}

const names = (): string[] => [...srv.engine.snapshot.pipelines.keys()].sort();

beforeAll(async () => {
  dir = await demoConfigs();
  await writeFile(join(dir, 'multi.yaml'), 'pipelines:\n- {name: m1, item_type: sku_id, initialization: {includes: [AvailableInventory]}}\n- {name: m2, item_type: sku_id, initialization: {includes: [AvailableInventory]}}\n');
  srv = await server({ configs: dir, adminToken: TOKEN, threads: 0 });
  expect(srv.startErrors).toEqual([]);
  expect(names()).toEqual(['MyPipeline', 'complimentary_items', 'm1', 'm2']);
});
afterAll(async () => srv?.close());

describe('admin POST /pipelines never overwrites another file', () => {
  it('a new pipeline named like an existing file (my_pipeline) goes to a free file; MyPipeline stays', async () => {
    const seed = await readFile(join(dir, 'my_pipeline.yaml'), 'utf8');
    const r = await call('POST', '/pipelines', pipeline('my_pipeline'));
    expect(r.status).toBe(201);
    expect(r.json['file']).toBe('my_pipeline-2.yaml');
    expect(await readFile(join(dir, 'my_pipeline.yaml'), 'utf8')).toBe(seed);
    expect(names()).toEqual(['MyPipeline', 'complimentary_items', 'm1', 'm2', 'my_pipeline']);
  });

  it('a new pipeline named like the definitions file (demo) is added beside it, not over it', async () => {
    const r = await call('POST', '/pipelines', pipeline('demo'));
    expect(r.status).toBe(201);
    expect(r.json['file']).toBe('demo-2.yaml');
    expect(names()).toContain('complimentary_items');
  });

  it('replacing a pipeline that shares its file (multi.yaml) is a 409 naming the file and what else it holds; nothing changes', async () => {
    const before = await snapshotOfDir();
    const version = srv.engine.snapshot.pipelines.get('m1')!.version;
    const r = await call('POST', '/pipelines', pipeline('m1', 1));
    expect(r.status).toBe(409);
    expect(r.json['code']).toBe('CONFIG_CONFLICT');
    expect(r.json['reason']).toContain("pipeline 'm1' shares multi.yaml with pipeline 'm2'");
    expect(await snapshotOfDir()).toEqual(before);
    expect(srv.engine.snapshot.pipelines.get('m1')!.version).toBe(version);
    expect(names()).toContain('m2');
    const del = await call('DELETE', '/pipelines/m1');
    expect(del.status).toBe(409);
    expect(del.json['code']).toBe('CONFIG_CONFLICT');
  });

  it('replacing the only pipeline of its file rewrites that file', async () => {
    const r = await call('POST', '/pipelines', pipeline('my_pipeline', 2));
    expect(r.status).toBe(200);
    expect(r.json['file']).toBe('my_pipeline-2.yaml');
    expect(await readFile(join(dir, 'my_pipeline-2.yaml'), 'utf8')).toContain('n: 2');
  });
});

describe('admin POST /pipelines and POST /validate take the text as sent', () => {
  it('saves YAML with its comments, and JSON as sent', async () => {
    await call('POST', '/pipelines', pipeline('commented'));
    expect(await readFile(join(dir, 'commented.yaml'), 'utf8')).toBe(pipeline('commented'));
    const json = '{"pipeline": {"name": "as_json", "item_type": "sku_id", "initialization": {"includes": ["AvailableInventory"]}}}';
    expect((await call('POST', '/pipelines', json, 'application/json')).status).toBe(201);
    expect(await readFile(join(dir, 'as_json.yaml'), 'utf8')).toBe(json);
  });

  it('reports a problem at its line and column in the body, as the request body', async () => {
    const text = pipeline('typo').replace('[AvailableInventory]', '[AvailableInventori]');
    const line = text.split('\n').findIndex((l) => l.includes('AvailableInventori')) + 1;
    const col = text.split('\n')[line - 1]!.indexOf('AvailableInventori') + 1;
    for (const path of ['/pipelines', '/validate']) {
      const r = await call('POST', path, text);
      expect(r.status).toBe(422);
      const errors = r.json['errors'] as { file: string; line: number; col: number; code: string }[];
      expect(errors[0]).toMatchObject({ code: 'UNKNOWN_OPERATOR', file: 'request body', line, col });
    }
    expect(await readdir(dir)).not.toContain('typo.yaml');
  });
});
