/**
 * Issue: a request forcing an arm that is none (`?arm=nope`, `x-airmail-arm: nope`, or the two
 * naming different arms) was answered 400 but never counted in the experiment's metrics, so an
 * on-call engineer watching `airmail_experiment_*` could not see clients sending wrong arms. It is
 * now counted in `airmail_experiment_requests_total` as `arm=""`, `assignment="forced"` with its
 * status, never with the client's text as a label (bounded: one series however many spellings).
 * Debug requests are still not counted there.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { metricValue, server, tempDir } from './helpers.js';

let srv: RunningServer;
const BAD = 'airmail_experiment_requests_total{experiment="feed",arm="",assignment="forced",status="400"}';

beforeAll(async () => {
  const dir = await tempDir('airmail-x-bad-arm-');
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1 }, { sku: 2 }]));
  await writeFile(join(dir, 'p.yaml'), `
datasets: {items: {path: items.json}}
pipelines:
- {name: arm_a, item_type: sku, inputs: {u: {type: integer}}, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}
- {name: arm_b, item_type: sku, inputs: {u: {type: integer}}, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}
experiments:
- {name: feed, unit: $u, arms: [{pipeline: arm_a, weight: 1}, {pipeline: arm_b, weight: 1}]}
`);
  srv = await server({ configs: dir, threads: 1 });
  expect(srv.startErrors).toEqual([]);
});
afterAll(() => srv?.close());

it('a wrong forced arm is a 400 counted under arm "" and assignment "forced", whatever the client wrote', async () => {
  expect(await metricValue(srv.url, BAD)).toBe(0);
  const sent = [
    fetch(`${srv.url}/pipelines/feed?u=1&arm=arm_c`),
    fetch(`${srv.url}/pipelines/feed?u=1&arm=${encodeURIComponent('"}; evil{')}`),
    fetch(`${srv.url}/pipelines/feed`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-airmail-arm': 'ARM_A' }, body: '{"u": 1}' }),
    fetch(`${srv.url}/pipelines/feed?u=1&arm=arm_a`, { headers: { 'x-airmail-arm': 'arm_b' } }),
    fetch(`${srv.url}/pipelines/feed/batch?arm=zzz`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"requests": [{"u": 1}]}' }),
  ];
  const answers = await Promise.all(sent);
  expect(answers.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
  const codes = await Promise.all(answers.map(async (r) => ((await r.json()) as { code: string }).code));
  expect(codes).toEqual(['QUERY_INVALID', 'QUERY_INVALID', 'HEADER_INVALID', 'HEADER_INVALID', 'QUERY_INVALID']);
  expect(await metricValue(srv.url, BAD)).toBe(5);
  // The client's text never becomes a label value.
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const series = text.split('\n').filter((l) => l.startsWith('airmail_experiment_requests_total{'));
  expect(series.filter((l) => /arm_c|evil|ARM_A|zzz/.test(l))).toEqual([]);
  // A good forced arm still counts under its arm, and a debug request with a wrong arm is not counted here.
  expect((await fetch(`${srv.url}/pipelines/feed?u=1&arm=arm_b`)).status).toBe(200);
  expect(await metricValue(srv.url, 'airmail_experiment_requests_total{experiment="feed",arm="arm_b",assignment="forced",status="200"}')).toBe(1);
  expect((await fetch(`${srv.url}/pipelines/feed?u=1&arm=nope&debug=true`)).status).toBe(400);
  expect(await metricValue(srv.url, BAD)).toBe(5);
});
