/**
 * Regression: putting back the last good text of a file after a rejected reload cleared the
 * rejection (airmail_config_rejections back to 0) but wrote no log line, so a log reader saw a
 * rejection that was never said to be over. It now writes one info line naming the file, GET
 * /pipelines lists the rejection no more (and its reloads history says it was cleared), and
 * airmail_config_reloads_total counts no reload (nothing was applied: the version serving stays).
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, metricValue, server, until } from './helpers.js';

type Rec = Record<string, unknown>;
let srv: RunningServer;
let dir: string;
const lines: string[] = [];
const records = (): Rec[] => lines.map((l) => JSON.parse(l) as Rec);

beforeAll(async () => {
  dir = await demoConfigs();
  const logger = new Logger({ level: 'info', sink: { write: (s: string) => lines.push(s) }, pretty: false });
  srv = await server({ configs: dir, threads: 0, reloadSettleMs: 0, observe: new Observability({ logger, metrics: new EngineMetrics() }) });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

const listed = async (): Promise<{ pipelines: Rec[]; rejections: Rec[]; reloads: Rec[] }> => (await (await fetch(`${srv.url}/pipelines`)).json()) as { pipelines: Rec[]; rejections: Rec[]; reloads: Rec[] };

describe('a rejected file put back as it was', () => {
  it('logs that its rejection was cleared, and GET /pipelines shows it cleared', async () => {
    const file = join(dir, 'my_pipeline.yaml');
    const good = await readFile(file, 'utf8');
    const version = srv.engine.snapshot.pipelines.get('MyPipeline')!.version;
    await writeFile(file, 'pipeline: [this is: not, valid');
    await until(async () => (await metricValue(srv.url, 'airmail_config_rejections')) === 1, 'the rejection');
    expect((await listed()).rejections).toHaveLength(1);
    const counted = async (): Promise<number[]> => [await metricValue(srv.url, 'airmail_config_reloads_total{result="applied"}'), await metricValue(srv.url, 'airmail_config_reloads_total{result="rejected"}')];
    const reloads = await counted();
    expect(reloads[1]).toBe(1);
    lines.length = 0;
    await writeFile(file, good);
    await until(async () => (await metricValue(srv.url, 'airmail_config_rejections')) === 0, 'the rejection cleared');
    const cleared = records().filter((r) => String(r['msg']).includes('cleared'));
    expect(cleared, lines.join('')).toHaveLength(1);
    expect(cleared[0]).toMatchObject({ level: 'info', files: ['my_pipeline.yaml'] });
    expect(cleared[0]!['msg']).toMatch(/rejection of my_pipeline\.yaml cleared: restored to the version serving/);
    const after = await listed();
    expect(after.rejections).toEqual([]);
    expect(after.pipelines.find((p) => p['name'] === 'MyPipeline')).toMatchObject({ version, last_rejection: null });
    expect(after.reloads.at(-1)).toMatchObject({ kind: 'cleared', files: ['my_pipeline.yaml'] });
    expect(srv.engine.snapshot.pipelines.get('MyPipeline')!.version).toBe(version);
    expect(await counted()).toEqual(reloads);
  });
});
