/**
 * Regression tests for observability defects a user hit clicking around the UI and reading logs:
 * why and debug runs inflated the serving rate and latency, debug `ms` were unrounded floats, a
 * request answered from the result memo logged no line at debug level, and a 4xx refusal's log line
 * had no `trace_id` though the request carried a traceparent.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import { Observability } from '../engine/observe/index.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

type Rec = Record<string, unknown>;
let srv: RunningServer;
const lines: string[] = [];
const metrics = new EngineMetrics();
const records = (): Rec[] => lines.flatMap((l) => l.split('\n')).filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Rec);

async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Rec }> {
  const r = await request(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await r.body.text();
  return { status: r.statusCode, body: text ? (JSON.parse(text) as Rec) : {} };
}
const count = (labels: string[]): number => metrics.requests.get(labels);
const latencyCount = (pipeline: string): number => metrics.latency.all().filter((s) => s.labels[0] === pipeline).reduce((n, s) => n + s.count, 0);
const opCount = (pipeline: string): number => metrics.opLatency.all().filter((s) => s.labels[0] === pipeline).reduce((n, s) => n + s.count, 0);

beforeAll(async () => {
  const dir = await tempDir();
  await writeFile(join(dir, 'items.json'), JSON.stringify(Array.from({ length: 8 }, (_, i) => ({ id: i + 1, w: i * 0.5 }))));
  await writeFile(join(dir, 'p.yaml'), `datasets:
  items: {path: items.json, key: id}
pipeline:
  name: p
  item_type: id
  items: items
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
  operations:
  - {name: Limit, parameters: {n: 3}}
  return: [id]
`);
  const logger = new Logger({ level: 'debug', sink: { write: (s: string) => lines.push(s) }, pretty: false });
  srv = await server({ configs: dir, threads: 1, inlineUnderMs: 0, observe: new Observability({ logger, metrics }) });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

describe('why and debug runs are not serving traffic', () => {
  it('issue: why and ?debug runs counted in airmail_requests_total and the latency histogram; now in airmail_diagnostic_requests_total', async () => {
    const before = { ok: count(['p', '200']), lat: latencyCount('p'), ops: opCount('p'), e422: count(['p', '422']) };
    expect((await post('/pipelines/p', '{}')).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await post('/pipelines/p?debug=true', '{}')).status).toBe(200);
    expect((await post('/pipelines/p', '{}', { 'x-airmail-debug': '1' })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await post('/pipelines/p/why', '{"inputs": {}, "item": 5}')).status).toBe(200);
    // A why refused before it ran (an item of the wrong type) is a diagnostic too.
    expect((await post('/pipelines/p/why', '{"inputs": {}, "item": "abc"}')).status).toBe(422);
    // So is a debug request refused for its body.
    expect((await post('/pipelines/p?debug=true', '{"x": ')).status).toBe(400);
    expect(count(['p', '200']) - before.ok).toBe(1);
    expect(latencyCount('p') - before.lat).toBe(1);
    expect(count(['p', '422']) - before.e422).toBe(0);
    expect(opCount('p') - before.ops).toBeLessThanOrEqual(2);
    expect(metrics.diagnostic.get(['p', 'debug', '200'])).toBe(4);
    expect(metrics.diagnostic.get(['p', 'why', '200'])).toBe(2);
    expect(metrics.diagnostic.get(['p', 'why', '422'])).toBe(1);
    expect(metrics.diagnostic.get(['p', 'debug', '400'])).toBe(1);
    const text = await (await request(`${srv.url}/metrics`)).body.text();
    expect(text).toContain('airmail_diagnostic_requests_total{pipeline="p",kind="why",status="200"} 2');
    // The UI's live rate reads the serving series only.
    const stats = (await (await request(`${srv.url}/ui/stats`)).body.json()) as { pipelines: Record<string, { requests: number }> };
    expect(stats.pipelines['p']!.requests).toBe(count(['p', '200']));
  });

  it('issue: debug ms were unrounded floats; rounded to 3 decimals like took_ms', async () => {
    const r = await post('/pipelines/p?debug=true', '{}');
    const steps = (r.body['debug'] as { steps: { ms: number }[] }).steps;
    expect(steps.length).toBeGreaterThan(0);
    for (const s of steps) expect(s.ms).toBe(Math.round(s.ms * 1000) / 1000);
    expect(r.body['took_ms']).toBe(Math.round((r.body['took_ms'] as number) * 1000) / 1000);
  });
});

describe('log lines', () => {
  it('issue: at debug level a request answered from the result memo logged no line saying its steps did not run', async () => {
    await post('/pipelines/p', '{}');
    lines.length = 0;
    const r = await post('/pipelines/p', '{}', { 'x-request-id': 'memo-hit-1' });
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 20));
    const mine = records().filter((x) => x['request_id'] === 'memo-hit-1');
    const memo = mine.filter((x) => x['level'] === 'debug' && x['memo'] === 'result');
    expect(memo).toHaveLength(1);
    expect(memo[0]!['msg']).toBe('p answered from the result memo: 2 steps did not run (Lookup, Limit)');
    expect(memo[0]!['skipped']).toEqual(['Lookup', 'Limit']);
    expect(mine.filter((x) => x['level'] === 'debug' && x['step'] !== undefined)).toHaveLength(0);
  });

  it('issue: a 4xx refusal\'s log line had no trace_id although the request carried a traceparent', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    lines.length = 0;
    expect((await post('/pipelines/p', '{"x": ', { traceparent: `00-${trace}-00f067aa0ba902b7-01`, 'x-request-id': 'bad-json-1' })).status).toBe(400);
    expect((await post('/pipelines/nope', '{}', { traceparent: `00-${trace}-00f067aa0ba902b7-01`, 'x-request-id': 'unknown-1' })).status).toBe(404);
    expect((await post('/pipelines/p', '{"x": ', { 'x-request-id': 'bad-json-2' })).status).toBe(400);
    await new Promise((res) => setTimeout(res, 20));
    const line = (id: string): Rec => records().find((x) => x['request_id'] === id)!;
    expect(line('bad-json-1')).toMatchObject({ level: 'warn', status: 400, trace_id: trace });
    expect(line('unknown-1')).toMatchObject({ level: 'warn', status: 404, trace_id: trace });
    expect(line('bad-json-2')['trace_id']).toBeUndefined();
  });
});
