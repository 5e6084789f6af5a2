/**
 * A source that fails is a step like the others in the per-step log and the
 * per-operator latency: before, only steps that succeeded were recorded, so a
 * request made slow by a source timing out after its retries showed no step
 * that took the time, and the debug log had no line for the step that failed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let srv: RunningServer;
let upstream: Server;
let dir: string;
const lines: Record<string, unknown>[] = [];
const metrics = new EngineMetrics();

describe('a failed source step in logs and metrics', () => {
  beforeAll(async () => {
    // Answers 503 after 60 ms: the step's time is the upstream's.
    upstream = createServer((_req, res) => void setTimeout(() => res.writeHead(503).end('down'), 60));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    dir = await tempDir();
    await writeFile(join(dir, 'items.json'), JSON.stringify([{ id: 1 }, { id: 2 }]));
    await writeFile(join(dir, 'main.yaml'), `datasets:
  items: {path: items.json, key: id}
operators:
  Down: {use: HttpSource, parameters: {url: 'http://127.0.0.1:${(upstream.address() as AddressInfo).port}/c', retries: 0}}
pipeline:
  name: flaky
  item_type: id
  initialization:
    includes: [Down, {name: Static, parameters: {items: [1]}}]
`);
    const logger = new Logger({ level: 'debug', sink: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) }, pretty: false });
    srv = await server({ configs: dir, threads: 1, observe: new Observability({ logger, metrics }) });
  });
  afterAll(async () => {
    await srv?.close();
    upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs the failed step at debug level and counts its time, not a row count', async () => {
    const r = await request(`${srv.url}/pipelines/flaky`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await r.body.json()).toMatchObject({ error: true, code: 'SOURCE_FAILED', operator: 'Down' });
    const step = lines.find((l) => l['level'] === 'debug' && l['step'] === 'Down');
    expect(step).toMatchObject({ pipeline: 'flaky', phase: 'include', operator: 'HttpSource', rows_out: 0, code: 'SOURCE_FAILED' });
    expect(String(step!['msg'])).toMatch(/^Down\(url=http:\/\/127\.0\.0\.1:\d+\/c, retries=0\) failed in [\d.]+ms: SOURCE_FAILED$/);
    expect(Number(step!['ms'])).toBeGreaterThanOrEqual(50);
    const latency = metrics.opLatency.all().find((s) => s.labels[1] === 'Down');
    expect(latency?.count).toBe(1);
    expect(latency!.sum).toBeGreaterThanOrEqual(0.05);
    expect(metrics.opRows.all().find((s) => s.labels[1] === 'Down')?.count ?? 0).toBe(0);
  });
});
