/**
 * Issue: an unexpected exception while loading a hot-reloaded change was swallowed: the change was
 * neither applied nor rejected, with no log line and nothing under GET /pipelines `rejections`.
 * The fault here is real and comes from a file: an operator file dropped into an `operator_paths`
 * folder whose definition's `parameters` getter throws `null` (the load's error path read
 * `.message` of it and threw a TypeError out of the config load). Any exception escaping a reload's
 * load is now a rejection like any other: code INTERNAL, the changed file named, a `warn` log line,
 * counted as a rejected reload, and the last good configs keep serving.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { metricValue, server, tempDir, until } from './helpers.js';

type Rec = Record<string, unknown>;
let srv: RunningServer;
let dir: string;
const lines: string[] = [];

beforeAll(async () => {
  dir = await tempDir('airmail-reload-unexpected-');
  await mkdir(join(dir, 'ops'));
  await writeFile(join(dir, 'p.yaml'), `
operator_paths: [ops]
pipelines:
- {name: p, item_type: sku, initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}}
`);
  const logger = new Logger({ level: 'info', sink: { write: (s: string) => lines.push(s) }, pretty: false });
  srv = await server({ configs: dir, threads: 0, reloadSettleMs: 0, observe: new Observability({ logger, metrics: new EngineMetrics() }) });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

it('an operator file whose parameters getter throws null is a rejected reload (INTERNAL, named, logged), and the last good set serves', async () => {
  const version = srv.engine.snapshot.pipelines.get('p')!.version;
  lines.length = 0;
  await writeFile(join(dir, 'ops', 'odd.mjs'), "export const odd = { kind: 'filter', name: 'Odd', get parameters() { throw null; }, run: (p, input) => input.rows };\n");
  await until(async () => (await metricValue(srv.url, 'airmail_config_reloads_total{result="rejected"}')) === 1, 'the reload rejected');
  const listed = (await (await fetch(`${srv.url}/pipelines`)).json()) as { rejections: Rec[]; reloads: Rec[] };
  expect(listed.rejections).toHaveLength(1);
  const rej = listed.rejections[0] as { files: string[]; diagnostics: Rec[] };
  expect(rej.files).toEqual(['ops/odd.mjs']);
  expect(rej.diagnostics).toEqual([expect.objectContaining({ code: 'INTERNAL', file: 'ops/odd.mjs', message: expect.stringMatching(/^loading the configs failed unexpectedly \(please report it\): TypeError: .*null/) })]);
  expect(listed.reloads.at(-1)).toMatchObject({ kind: 'rejected', files: ['ops/odd.mjs'] });
  const warned = lines.map((l) => JSON.parse(l) as Rec).filter((r) => r['level'] === 'warn' && String(r['msg']).startsWith('config reload rejected'));
  expect(warned, lines.join('')).toHaveLength(1);
  expect(warned[0]).toMatchObject({ files: ['ops/odd.mjs'] });
  expect(String(warned[0]!['msg'])).toContain('INTERNAL');
  // The last good set keeps serving.
  expect(srv.engine.snapshot.pipelines.get('p')!.version).toBe(version);
  const r = await fetch(`${srv.url}/pipelines/p`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect([r.status, ((await r.json()) as { items: unknown[] }).items.length]).toEqual([200, 2]);
});
