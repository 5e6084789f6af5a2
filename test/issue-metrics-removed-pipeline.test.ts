/**
 * Issue: the series of a pipeline that was removed (its file deleted, or DELETE /pipelines/{name})
 * stayed on /metrics for as long as the server ran, so across renames the cardinality only grew.
 * A pipeline that stops being served leaves every per-pipeline series; one replaced by a new
 * version (same name) keeps its counts.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir, until } from './helpers.js';

const TOKEN = 'metrics-removed-token';
let srv: RunningServer;
let dir: string;
const scrape = async (): Promise<string> => (await request(`${srv.url}/metrics`)).body.text();
const run = async (name: string): Promise<number> => (await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).statusCode;
const pipeline = (name: string, n = 2): string => `pipeline: {name: ${name}, item_type: id, initialization: {includes: [{name: Static, parameters: {items: [1, 2, 3]}}]}, operations: [{name: Limit, parameters: {n: ${n}}}]}\n`;
const series = (text: string, name: string): string[] => text.split('\n').filter((l) => l.includes(`pipeline="${name}"`) && !l.startsWith('airmail_pipeline_info'));

describe('the series of a removed pipeline', () => {
  beforeAll(async () => {
    dir = await tempDir();
    for (const name of ['kept', 'deleted', 'dropped']) await writeFile(join(dir, `${name}.yaml`), pipeline(name));
    srv = await server({ configs: dir, threads: 1, reloadSettleMs: 0, adminToken: TOKEN, observe: new Observability({ metrics: new EngineMetrics() }) });
    expect(srv.startErrors).toEqual([]);
  });
  afterAll(async () => {
    await srv?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('leave /metrics when it stops being served (file removed, admin DELETE), not when it is replaced', async () => {
    for (const name of ['kept', 'deleted', 'dropped']) expect(await run(name)).toBe(200);
    const before = await scrape();
    for (const name of ['kept', 'deleted', 'dropped']) expect(series(before, name).some((l) => l.startsWith('airmail_operator_duration_seconds_count'))).toBe(true);
    const keptBefore = series(before, 'kept').find((l) => l.startsWith('airmail_requests_total'));

    const v0 = srv.engine.snapshot.pipelines.get('kept')!.version;
    await rm(join(dir, 'dropped.yaml'));
    const del = await request(`${srv.url}/pipelines/deleted`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(del.statusCode).toBeLessThan(300);
    await del.body.dump();
    await writeFile(join(dir, 'kept.yaml'), pipeline('kept', 1));
    await until(() => !srv.engine.snapshot.pipelines.has('dropped') && !srv.engine.snapshot.pipelines.has('deleted'), 'both pipelines are gone', 5000);
    await until(() => srv.engine.snapshot.pipelines.get('kept')?.version !== v0, 'the new version of kept is served', 5000);

    const after = await scrape();
    expect(series(after, 'dropped')).toEqual([]);
    expect(series(after, 'deleted')).toEqual([]);
    expect(series(after, 'kept').find((l) => l.startsWith('airmail_requests_total'))).toBe(keptBefore);
    // A request for a name no longer served is the fixed `_unknown` label, not a new series of its own.
    expect(await run('dropped')).toBe(404);
    expect(series(await scrape(), 'dropped')).toEqual([]);
  });
});
