/**
 * The applied-reload log names every pipeline whose served version moved. It used to name only the
 * pipelines defined in the changed files: a preset edited in another file moved a pipeline's version
 * with no line for it, and a removed pipeline got a bare "config reload applied: q.yaml".
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import { Observability } from '../engine/observe/index.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

type Rec = Record<string, unknown>;
const lines: string[] = [];
const applied = (): Rec[] => lines.map((l) => JSON.parse(l) as Rec).filter((r) => String(r['msg']).startsWith('config reload applied'));
const pipeline = (name: string) => `pipeline:
  name: ${name}
  item_type: sku
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2, 3]}}]
  operations: [Top]
`;

async function until(fn: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 25));
}

describe('applied reload log lines', () => {
  let srv: RunningServer;
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('airmail-reload-log-');
    await writeFile(join(dir, 'presets.yaml'), 'operators:\n  Top: {use: Limit, parameters: {n: 2}}\n');
    await writeFile(join(dir, 'p.yaml'), pipeline('p'));
    await writeFile(join(dir, 'q.yaml'), pipeline('q'));
    const logger = new Logger({ level: 'info', sink: { write: (s: string) => lines.push(s) }, pretty: false });
    srv = await server({ configs: dir, threads: 1, reloadSettleMs: 0, observe: new Observability({ logger, metrics: new EngineMetrics() }) });
  });

  afterAll(async () => {
    await srv?.close();
  });

  it('a preset edited in another file logs a line for each pipeline it moved, naming its own file', async () => {
    lines.length = 0;
    const before = srv.engine.pipeline('p').version;
    await writeFile(join(dir, 'presets.yaml'), 'operators:\n  Top: {use: Limit, parameters: {n: 1}}\n');
    await until(() => applied().length >= 2);
    const p = srv.engine.pipeline('p').version;
    expect(p).not.toBe(before);
    const got = applied().map((r) => [r['pipeline'], r['version'], r['file'], r['files']]);
    expect(got).toEqual(expect.arrayContaining([
      ['p', p, 'p.yaml', ['presets.yaml']],
      ['q', srv.engine.pipeline('q').version, 'q.yaml', ['presets.yaml']],
    ]));
    expect(got).toHaveLength(2);
  });

  it('a removed file logs its pipeline as removed, with the version it served', async () => {
    lines.length = 0;
    const was = srv.engine.pipeline('q').version;
    await rm(join(dir, 'q.yaml'));
    await until(() => applied().length >= 1);
    expect(applied()).toEqual([expect.objectContaining({ level: 'info', pipeline: 'q', version: null, removed: true, files: ['q.yaml'], msg: `config reload applied: q removed (it served version ${was})` })]);
  });
});
