/**
 * Issue: an unexpected exception while loading a hot-reloaded change was swallowed: the change was
 * neither applied nor rejected, with no log line and nothing under GET /pipelines `rejections`.
 * A real fault from a file did it: an operator file dropped into an `operator_paths` folder whose
 * definition's `parameters` getter throws `null` (the load's error path read `.message` of it and
 * threw a TypeError out of the config load; `airmail validate` said "unexpected: please report it").
 * That file is now a CONFIG_INVALID problem naming it and its export. Any other exception escaping
 * a reload's load (caused here through the store's injected operator table: a definition whose
 * getter starts throwing `null`, which no file can reach any more) is a rejection like any other:
 * code INTERNAL for each changed file, a `warn` log line, counted as a rejected reload, and the last
 * good configs keep serving.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OperatorDefinition } from '../engine/api.js';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { metricValue, OPS, server, tempDir, until } from './helpers.js';

type Rec = Record<string, unknown>;
let srv: RunningServer;
let dir: string;
const lines: string[] = [];
// An operator of the injected table whose parameters getter starts throwing null once armed.
let armed = false;
const boom = { name: 'Boom', kind: 'filter', summary: 'keeps every row', run: (_p: unknown, input: { rows: unknown }) => input.rows, get parameters() { if (armed) throw null; return { type: 'object', additionalProperties: false }; } } as unknown as OperatorDefinition;
const PIPELINE = (n: number): string => `
operator_paths: [ops]
pipelines:
- {name: p, item_type: sku, initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}, operations: [{name: Limit, parameters: {n: ${n}}}]}
- {name: q, item_type: sku, initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}, operations: [{name: Boom}]}
`;

beforeAll(async () => {
  dir = await tempDir('airmail-reload-unexpected-');
  await mkdir(join(dir, 'ops'));
  await writeFile(join(dir, 'p.yaml'), PIPELINE(10));
  const logger = new Logger({ level: 'info', sink: { write: (s: string) => lines.push(s) }, pretty: false });
  srv = await server({ configs: dir, threads: 0, reloadSettleMs: 0, operators: [...OPS.values(), boom], observe: new Observability({ logger, metrics: new EngineMetrics() }) });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

const rejectedReloads = (): Promise<number> => metricValue(srv.url, 'airmail_config_reloads_total{result="rejected"}');
const warned = (): Rec[] => lines.map((l) => JSON.parse(l) as Rec).filter((r) => r['level'] === 'warn' && String(r['msg']).startsWith('config reload rejected'));
const listed = async (): Promise<{ rejections: { files: string[]; diagnostics: Rec[] }[]; reloads: Rec[] }> => (await (await fetch(`${srv.url}/pipelines`)).json()) as { rejections: { files: string[]; diagnostics: Rec[] }[]; reloads: Rec[] };
const served = async (): Promise<[number, number]> => {
  const r = await fetch(`${srv.url}/pipelines/p`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return [r.status, ((await r.json()) as { items: unknown[] }).items.length];
};

it('an operator file whose parameters getter throws null is a rejected reload naming the file and its export', async () => {
  const version = srv.engine.snapshot.pipelines.get('p')!.version;
  lines.length = 0;
  await writeFile(join(dir, 'ops', 'odd.mjs'), "export const odd = { kind: 'filter', name: 'Odd', get parameters() { throw null; }, run: (p, input) => input.rows };\n");
  await until(async () => (await rejectedReloads()) === 1, 'the reload rejected');
  const { rejections, reloads } = await listed();
  expect(rejections).toHaveLength(1);
  expect(rejections[0]!.files).toEqual(['ops/odd.mjs']);
  expect(rejections[0]!.diagnostics).toEqual([expect.objectContaining({ code: 'CONFIG_INVALID', file: 'ops/odd.mjs', message: expect.stringMatching(/^export 'odd' of odd\.mjs could not be read as an operator definition: reading it threw null/) })]);
  expect(reloads.at(-1)).toMatchObject({ kind: 'rejected', files: ['ops/odd.mjs'] });
  expect(warned(), lines.join('')).toEqual([expect.objectContaining({ files: ['ops/odd.mjs'] })]);
  expect(srv.engine.snapshot.pipelines.get('p')!.version).toBe(version);
  expect(await served()).toEqual([200, 2]);
  await rm(join(dir, 'ops', 'odd.mjs'));
  await until(async () => (await listed()).rejections.length === 0, 'the rejection gone with the file');
});

it('any other exception out of a reload\'s load is a rejection: INTERNAL for the changed file, logged, the last good set serving', async () => {
  const version = srv.engine.snapshot.pipelines.get('p')!.version;
  const before = await rejectedReloads();
  lines.length = 0;
  armed = true;
  try {
    await writeFile(join(dir, 'p.yaml'), PIPELINE(1));
    await until(async () => (await rejectedReloads()) === before + 1, 'the reload rejected');
    const { rejections, reloads } = await listed();
    expect(rejections.map((r) => r.files)).toEqual([['p.yaml']]);
    expect(rejections[0]!.diagnostics).toEqual([{ code: 'INTERNAL', file: 'p.yaml', message: 'loading the configs failed unexpectedly (please report it): it threw null' }]);
    expect(reloads.at(-1)).toMatchObject({ kind: 'rejected', files: ['p.yaml'] });
    const w = warned();
    expect(w, lines.join('')).toEqual([expect.objectContaining({ files: ['p.yaml'] })]);
    expect(String(w[0]!['msg'])).toContain('INTERNAL');
    expect(srv.engine.snapshot.pipelines.get('p')!.version).toBe(version);
    expect(await served()).toEqual([200, 2]);
  } finally {
    armed = false;
  }
});
