/**
 * Issue: `POST /pipelines/{experiment}/why` read the experiment before its body and the arm after
 * it, from whatever was served then. A hot reload that removed an arm (from the experiment and its
 * pipeline from the configs, in one change) while such a request's body was still arriving made it
 * a 404 "no pipeline named 'arm_b'", an arm the client never named. The request now explains the arm
 * from the configs it started with, as runs in flight finish on the version they started with.
 */
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { armOf, bucketOf } from '../engine/experiments.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir, until } from './helpers.js';

let srv: RunningServer;
let dir: string;
const pipeline = (name: string): string => `- {name: ${name}, item_type: sku, inputs: {u: {type: integer}}, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n`;

beforeAll(async () => {
  dir = await tempDir('airmail-x-why-reload-');
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1 }, { sku: 2 }]));
  await writeFile(join(dir, 'p.yaml'), `datasets: {items: {path: items.json}}
pipelines:
${pipeline('arm_a')}${pipeline('arm_b')}experiments:
- {name: feed, unit: $u, arms: [{pipeline: arm_a, weight: 1}, {pipeline: arm_b, weight: 1}]}
`);
  srv = await server({ configs: dir, threads: 0, reloadSettleMs: 0 });
  expect(srv.startErrors).toEqual([]);
});
afterAll(() => srv?.close());

it('an arm removed by a reload while the why body arrives: explained from the configs the request started with', async () => {
  const x = srv.engine.snapshot.experiments!.get('feed')!;
  let u = 0;
  while (armOf(x, bucketOf(x.salt, u)).pipeline !== 'arm_b') u++;
  const body = JSON.stringify({ inputs: { u }, item: 1 });
  const url = new URL(`${srv.url}/pipelines/feed/why`);
  const answer = new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.write(body.slice(0, 5));
    // The rest once the reload that removes arm_b is served.
    void (async () => {
      await writeFile(join(dir, 'p.yaml'), `datasets: {items: {path: items.json}}
pipelines:
${pipeline('arm_a')}experiments:
- {name: feed, unit: $u, arms: [{pipeline: arm_a, weight: 1}]}
`);
      await until(() => !srv.engine.snapshot.pipelines.has('arm_b'), 'the reload without arm_b');
      req.end(body.slice(5));
    })().catch(reject);
  });
  const a = await answer;
  expect([a.status, a.body['pipeline'], a.body['experiment']], JSON.stringify(a.body)).toEqual([200, 'arm_b', { name: 'feed', arm: 'arm_b', assignment: 'assigned', bucket: bucketOf(x.salt, u) }]);
  expect(a.body['why']).toMatchObject({ verdict: 'kept' });
  // A new request sees the reloaded experiment: one arm.
  const r = await fetch(`${srv.url}/pipelines/feed/why`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  expect([r.status, ((await r.json()) as { pipeline: string }).pipeline]).toEqual([200, 'arm_a']);
});
