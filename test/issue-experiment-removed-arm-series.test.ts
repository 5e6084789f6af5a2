/**
 * Issue: a request to an experiment whose arm was removed by a hot reload while the arm ran was
 * counted when it ended, after that reload had dropped the arm's series: the removed arm's
 * airmail_experiment_requests_total and latency series came back and stayed in /metrics for good
 * (experiments whose arms come and go grew /metrics without bound). Such a request is answered
 * from the arm it started on and is not counted; the served arms count as before.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { metricValue, ROOT, server, tempDir, until } from './helpers.js';

let srv: RunningServer;
let dir: string;
const config = (arms: string[]): string => `operator_paths: [${JSON.stringify(join(ROOT, 'test/fixtures/operators'))}]
datasets: {items: {path: items.json}}
pipelines:
- {name: fine_arm, item_type: sku, inputs: {u: {type: integer}}, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}
${arms.includes('slow_arm') ? '- {name: slow_arm, item_type: sku, inputs: {u: {type: integer}}, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}, operations: [{name: Fault, parameters: {mode: sleep, ms: 1500}}]}\n' : ''}experiments:
- {name: feed, unit: $u, arms: [${arms.map((a) => `{pipeline: ${a}, weight: 1}`).join(', ')}]}
`;

beforeAll(async () => {
  dir = await tempDir('airmail-x-removed-arm-');
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1 }, { sku: 2 }]));
  await writeFile(join(dir, 'p.yaml'), config(['fine_arm', 'slow_arm']));
  srv = await server({ configs: dir, threads: 1, reloadSettleMs: 0 });
  expect(srv.startErrors).toEqual([]);
});
afterAll(() => srv?.close());

it('a run on an arm removed meanwhile brings none of its series back', async () => {
  const inFlight = fetch(`${srv.url}/pipelines/feed?u=1&arm=slow_arm`);
  // Removed while it runs (its Fault step sleeps 1.5 s); the run goes on with the configs it started with.
  await new Promise((r) => setTimeout(r, 300));
  await writeFile(join(dir, 'p.yaml'), config(['fine_arm']));
  await until(() => !srv.engine.snapshot.pipelines.has('slow_arm'), 'the reload without slow_arm');
  const r = await inFlight;
  expect([r.status, ((await r.json()) as { pipeline: string }).pipeline]).toEqual([200, 'slow_arm']);
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  expect(text.split('\n').filter((l) => l.startsWith('airmail_experiment_') && l.includes('arm="slow_arm"'))).toEqual([]);
  // The arm still served is counted as before.
  expect((await fetch(`${srv.url}/pipelines/feed?u=1`)).status).toBe(200);
  expect(await metricValue(srv.url, 'airmail_experiment_requests_total{experiment="feed",arm="fine_arm",assignment="assigned",status="200"}')).toBe(1);
});
