/**
 * A step stuck in its worker (a synchronous loop, an async operator that ignores ctx.signal, one
 * that allocates until the heap runs out, one that exits) used to fail with a 504 / 500 whose reason
 * named no step: the worker was stopped, so the step's name never reached the main thread. The pool
 * now reads it from the worker's step slot (engine/step-slots.ts). Inline runs name it as well, and
 * an overrun step is not blamed on the step after it. Real worker pool, real operator files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

// Plain definitions (what defineOperator returns), so the file needs no import under vitest.
const OPS = `const ms = { type: 'object', required: ['ms'], properties: { ms: { type: 'integer' } } };
export const ops = [
  { kind: 'filter', name: 'Spin', summary: 'busy loop', parameters: ms,
    run: (p, input) => { const end = Date.now() + p.ms; while (Date.now() < end); return input.rows; } },
  { kind: 'filter', name: 'Deaf', summary: 'ignores ctx.signal', parameters: ms,
    run: async (p, input) => { await new Promise((r) => setTimeout(r, p.ms)); return input.rows; } },
  { kind: 'filter', name: 'Hog', summary: 'allocates until the heap runs out', parameters: ms,
    run: () => { const keep = []; for (;;) keep.push(new Array(1e5).fill(keep.length)); } },
  { kind: 'filter', name: 'Quitter', summary: 'exits', parameters: ms, run: () => process.exit(3) },
];
`;

const pipe = (name: string, ops: string): string =>
  `- name: ${name}\n  item_type: id\n  initialization:\n    includes: [{name: Static, parameters: {items: [1, 2, 3]}}]\n  operations: [${ops}]\n`;

async function configs(): Promise<string> {
  const dir = await tempDir('airmail-step-deadline-');
  await mkdir(join(dir, 'ops'));
  await writeFile(join(dir, 'ops', 'stuck.js'), OPS);
  await mkdir(join(dir, 'configs'));
  await writeFile(join(dir, 'configs', 'stuck.yaml'), [
    'operator_paths: [../ops]',
    'operators:',
    '  Slowpoke: {use: Spin, parameters: {ms: 2000}}',
    '  Overrun: {use: Spin, parameters: {ms: 450}}',
    'pipelines:',
    pipe('spin', 'Slowpoke'),
    pipe('overrun', 'Overrun, {name: Limit, parameters: {n: 2}}'),
    pipe('deaf', '{name: Deaf, parameters: {ms: 3000}}'),
    pipe('hog', '{name: Hog, parameters: {ms: 0}}'),
    pipe('quit', '{name: Quitter, parameters: {ms: 0}}'),
    pipe('ok', '{name: Spin, parameters: {ms: 0}}'),
  ].join('\n'));
  return join(dir, 'configs');
}

async function post(srv: RunningServer, name: string, deadlineMs?: number): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${srv.url}/pipelines/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(deadlineMs ? { 'x-airmail-deadline-ms': String(deadlineMs) } : {}) },
    body: '{}',
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

/** Every worker has loaded the pipelines (a worker loading a pipeline is in no step yet). */
async function warm(srv: RunningServer): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const all = await Promise.all(Array.from({ length: 4 }, () => post(srv, 'ok')));
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200]);
  }
}

const IN_STEP = (step: string): RegExp => new RegExp(`^the request's deadline passed while ${step.replace(/[()]/g, '\\$&')} was running \\(\\d[\\d,]* ms in it\\); `);

describe('on the worker pool, the step a stuck request was in is named', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await server({ configs: await configs(), threads: 2, workerHeapMb: 48, deadlineMs: 30_000, watch: false });
    expect(srv.startErrors).toEqual([]);
    await warm(srv);
  }, 60_000);
  afterAll(async () => srv?.close());

  it('a synchronous loop past the deadline → 504 naming the step and its operator, in /metrics too', async () => {
    const r = await post(srv, 'spin', 300);
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ code: 'DEADLINE_EXCEEDED', operator: 'Slowpoke' });
    expect(r.json['reason']).toMatch(IN_STEP('Slowpoke (Spin)'));
    const metrics = await (await request(`${srv.url}/metrics`)).body.text();
    expect(metrics).toContain('airmail_errors_total{pipeline="spin",code="DEADLINE_EXCEEDED",operator="Slowpoke"} 1');
    await warm(srv);
  });

  it('an async operator that ignores ctx.signal → 504 naming it', async () => {
    const r = await post(srv, 'deaf', 300);
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ code: 'DEADLINE_EXCEEDED', operator: 'Deaf' });
    expect(r.json['reason']).toMatch(IN_STEP('Deaf'));
    await warm(srv);
  });

  it('a step that ends past the deadline is named, not the step after it', async () => {
    const r = await post(srv, 'overrun', 200);
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ code: 'DEADLINE_EXCEEDED', operator: 'Overrun' });
    expect(r.json['reason']).toMatch(IN_STEP('Overrun (Spin)'));
    await warm(srv);
  });

  it('running out of heap → 500 WORKER_FAILED naming the step', async () => {
    const r = await post(srv, 'hog');
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ code: 'WORKER_FAILED', operator: 'Hog' });
    expect(r.json['reason']).toMatch(/^the worker ran out of heap while running this request in Hog \(\d[\d,]* ms in it\); it was replaced$/);
    await warm(srv);
  });

  it('process.exit → 500 WORKER_FAILED naming the step', async () => {
    const r = await post(srv, 'quit');
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ code: 'WORKER_FAILED', operator: 'Quitter' });
    expect(r.json['reason']).toMatch(/^the worker running this request exited in Quitter \(\d[\d,]* ms in it\) /);
    await warm(srv);
  });
});

describe('inline (--threads 0), the step is named as well', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await server({ configs: await configs(), threads: 0, deadlineMs: 30_000, watch: false });
    expect(srv.startErrors).toEqual([]);
  }, 60_000);
  afterAll(async () => srv?.close());

  it('a synchronous loop that ends past the deadline (+ grace) → 504 naming it, not a late 200', async () => {
    const r = await post(srv, 'spin', 300);
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ code: 'DEADLINE_EXCEEDED', operator: 'Slowpoke' });
    expect(r.json['reason']).toMatch(IN_STEP('Slowpoke (Spin)'));
  });

  it('a step that ends past the deadline is named, not the step after it', async () => {
    const r = await post(srv, 'overrun', 200);
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ code: 'DEADLINE_EXCEEDED', operator: 'Overrun' });
    expect(r.json['reason']).toMatch(IN_STEP('Overrun (Spin)'));
  });

  it('an async operator that ignores ctx.signal is not waited for: 504 naming it at deadline + grace', async () => {
    const t0 = performance.now();
    const r = await post(srv, 'deaf', 300);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ code: 'DEADLINE_EXCEEDED', operator: 'Deaf' });
    expect(r.json['reason']).toMatch(IN_STEP('Deaf'));
  });
});
