/**
 * A pipeline posted by an admin (POST /pipelines) under an A/B experiment's name was refused with
 * "..., so give the experiment another name": advice for the experiment's author, while the admin had
 * only named a pipeline. The refusal now says to rename either, and nothing changed: no file saved,
 * the experiment serving on.
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const TOKEN = 'secret-token';
let dir: string;
let srv: RunningServer;

beforeAll(async () => {
  dir = await tempDir('airmail-experiment-admin-');
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1 }, { sku: 2 }]));
  await writeFile(join(dir, 'feeds.yaml'), `
datasets:
  items: {path: items.json, key: sku}
pipelines:
- name: v1
  item_type: sku
  inputs: {client_id: {type: integer}}
  initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}
experiments:
- name: home_feed
  unit: $client_id
  arms: [{pipeline: v1, weight: 1}]
`);
  srv = await server({ configs: dir, adminToken: TOKEN, threads: 0, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => {
  await srv?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('refuses a posted pipeline named like an experiment, saying to rename either, and changes nothing', async () => {
  const before = await readdir(dir);
  const res = await fetch(`${srv.url}/pipelines`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pipeline: { name: 'home_feed', item_type: 'sku', initialization: { includes: [{ name: 'Lookup', parameters: { dataset: 'items' } }] } } }),
  });
  const body = (await res.json()) as { code: string; reason: string };
  expect(res.status).toBe(422);
  expect(body.code).toBe('DUPLICATE_NAME');
  expect(body.reason).toContain("experiment 'home_feed': pipeline 'home_feed'");
  expect(body.reason).toContain('both would be served at /pipelines/home_feed: rename the pipeline or the experiment');
  expect(body.reason).not.toContain('give the experiment another name');
  expect(await readdir(dir)).toEqual(before);
  const run = (await (await fetch(`${srv.url}/pipelines/home_feed?client_id=3`)).json()) as { experiment?: { arm: string } };
  expect(run.experiment?.arm).toBe('v1');
});
