/**
 * Observability checked against what a client sent and got: /ui/stats' `requests` since the start
 * counted only the requests that reached a run (a page showed fewer "requests since start" than
 * errors, refusals being errors), and a score or operation that threw left no span of its own, so a
 * trace showed that the run failed but not in which step.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineMetrics } from '../engine/observe/metrics.js';
import { Observability } from '../engine/observe/index.js';
import { attribute as attr, startOtlpSink, type OtlpSink } from '../engine/observe/otlp-sink.js';
import { Tracing } from '../engine/observe/tracing.js';
import type { RunningServer } from '../engine/server.js';
import { ROOT, server, tempDir } from './helpers.js';

let srv: RunningServer;
let col: OtlpSink;
let tracing: Tracing;

async function post(path: string, body: string, id: string): Promise<number> {
  const r = await request(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body });
  await r.body.text();
  return r.statusCode;
}

beforeAll(async () => {
  const dir = await tempDir();
  await mkdir(join(dir, 'ops'));
  await writeFile(join(dir, 'ops', 'flaky.ts'), `import { defineOperator } from ${JSON.stringify(join(ROOT, 'engine/api.ts'))};
export const flaky = defineOperator<{ fail: boolean }>({
  kind: 'filter', name: 'Flaky', summary: 'fails when asked',
  parameters: { type: 'object', required: ['fail'], properties: { fail: { type: 'boolean' } } },
  reads: () => [],
  run: (p, input) => { if (p.fail) throw Object.assign(new Error('asked to fail'), { code: 'ASKED' }); return input.rows; },
});
`);
  await writeFile(join(dir, 'p.yaml'), `operator_paths: [./ops]
pipeline:
  name: flaky
  item_type: id
  inputs: {fail: {type: boolean, default: false}}
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2, 3]}}]
  operations: [{name: Flaky, parameters: {fail: $fail}}]
`);
  col = await startOtlpSink();
  tracing = new Tracing({ url: col.url, delayMs: 20, timeoutMs: 500 });
  srv = await server({ configs: dir, threads: 1, inlineUnderMs: 0, observe: new Observability({ metrics: new EngineMetrics(), tracing }) });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => {
  await srv?.close();
  await tracing?.shutdown();
  await col?.close();
});

describe('observability against the client', () => {
  it('issue: /ui/stats requests since start counted only runs, not refusals; now every answer, as airmail_requests_total', async () => {
    const sent = { ok: 0, failed: 0, refused: 0 };
    for (let i = 0; i < 3; i++) if ((await post('/pipelines/flaky', '{}', `ok-${i}`)) === 200) sent.ok++;
    if ((await post('/pipelines/flaky', '{"fail": true}', 'fail-0')) === 500) sent.failed++;
    for (let i = 0; i < 4; i++) if ((await post('/pipelines/flaky', '{"fail": "x"}', `bad-${i}`)) === 422) sent.refused++;
    expect(sent).toEqual({ ok: 3, failed: 1, refused: 4 });
    const stats = (await (await request(`${srv.url}/ui/stats`)).body.json()) as { pipelines: Record<string, { requests: number; timed: number; errors: number }> };
    const p = stats.pipelines['flaky']!;
    expect(p.requests).toBe(8);
    expect(p.timed).toBe(4);
    expect(p.errors).toBe(5);
  });

  it('issue: an operation that threw had no span; now its span carries the error and its code', async () => {
    expect(await post('/pipelines/flaky', '{"fail": true}', 'fail-span')).toBe(500);
    let root;
    for (let i = 0; i < 100 && !root; i++) {
      root = col.spans.find((s) => attr(s, 'airmail.request_id') === 'fail-span');
      if (!root) await new Promise((r) => setTimeout(r, 50));
    }
    expect(root).toBeDefined();
    let step;
    for (let i = 0; i < 100 && !step; i++) {
      step = col.spans.find((s) => s.traceId === root!.traceId && s.name === 'operation Flaky');
      if (!step) await new Promise((r) => setTimeout(r, 50));
    }
    expect(step).toBeDefined();
    expect(step!.status?.code).toBe(2);
    expect(step!.status?.message).toContain('asked to fail');
    expect(attr(step!, 'airmail.error_code')).toBe('OPERATOR_FAILED');
    expect(attr(step!, 'airmail.rows_in')).toBe(3);
    const exec = col.spans.find((s) => s.traceId === root!.traceId && s.name === 'execute');
    expect(step!.parentSpanId).toBe(exec?.spanId);
  });
});
