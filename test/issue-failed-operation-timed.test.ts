/**
 * Issue: a failing source was counted in airmail_operator_duration_seconds (and logged at debug
 * level as `Step(...) failed in Xms: CODE`), but a failing operation or scorer (a step that throws)
 * was not: the step that took a failed request's time showed nowhere. Now any step that fails is
 * counted the same way whatever its kind: its time under its usual labels, no rows out, and the
 * debug line with its code.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const OPS = `
const P = { type: 'object', properties: { why: { type: 'string' } } };
const boom = (p) => { const t = Date.now(); while (Date.now() - t < 20); throw new Error('boom: ' + p.why); };
export const ops = [
  { kind: 'filter', name: 'BoomFilter', summary: 's', parameters: P, run: boom },
  { kind: 'score', name: 'BoomScore', summary: 's', parameters: P, run: boom },
  { kind: 'transform', name: 'BoomTransform', summary: 's', parameters: P, run: boom },
];
`;
const KINDS = [
  ['f', 'operations: [{name: BoomFilter, parameters: {why: x}}]', 'BoomFilter', 'operation'],
  ['s', 'initialization: {includes: [STATIC], scores: [{name: BoomScore, parameters: {why: x}}]}', 'BoomScore', 'score'],
  ['t', 'operations: [{name: BoomTransform, parameters: {why: x}}]', 'BoomTransform', 'operation'],
] as const;
const STATIC = '{name: Static, parameters: {items: [1, 2]}}';

let srv: RunningServer;
let home: string;
const lines: Record<string, unknown>[] = [];
const metrics = new EngineMetrics();

describe('a failed operation in metrics and logs', () => {
  beforeAll(async () => {
    home = await tempDir('airmail-failed-op-');
    await mkdir(join(home, 'ops'));
    await mkdir(join(home, 'configs'));
    await writeFile(join(home, 'ops', 'ops.js'), OPS);
    await writeFile(join(home, 'configs', 'defs.yaml'), 'operator_paths: [../ops]\n');
    for (const [name, body] of KINDS) {
      const init = body.startsWith('initialization') ? body.replace('STATIC', STATIC) : `initialization: {includes: [${STATIC}]}, ${body}`;
      await writeFile(join(home, 'configs', `${name}.yaml`), `pipeline: {name: ${name}, item_type: id, ${init}}\n`);
    }
    const logger = new Logger({ level: 'debug', sink: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) }, pretty: false });
    srv = await server({ configs: join(home, 'configs'), threads: 1, observe: new Observability({ logger, metrics }) });
    expect(srv.startErrors).toEqual([]);
  });
  afterAll(async () => {
    await srv?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('counts its time as a failed source is counted, for a filter, a scorer and a transform', async () => {
    for (const [name, , step, phase] of KINDS) {
      const r = await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(r.statusCode).toBe(500);
      expect(await r.body.json()).toMatchObject({ error: true, code: 'OPERATOR_FAILED', operator: step });
      const latency = metrics.opLatency.all().find((s) => s.labels[0] === name && s.labels[1] === step);
      expect(latency?.labels).toEqual([name, step, step, phase]);
      expect(latency?.count).toBe(1);
      expect(latency!.sum).toBeGreaterThanOrEqual(0.015);
      expect(metrics.opRows.all().find((s) => s.labels[0] === name && s.labels[1] === step)?.count ?? 0).toBe(0);
      const line = lines.find((l) => l['level'] === 'debug' && l['pipeline'] === name && l['step'] === step);
      expect(line).toMatchObject({ operator: step, phase, rows_in: 2, rows_out: 0, code: 'OPERATOR_FAILED' });
      expect(String(line!['msg'])).toMatch(new RegExp(`^${step}\\(why=x\\) failed in [\\d.]+ms: OPERATOR_FAILED$`));
    }
  });
});
