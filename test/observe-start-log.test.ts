/**
 * A config file that does not compile at startup is a `warn` JSON line, like a
 * rejected reload: before, it reached only stderr as a Node warning and plain
 * text, so a log pipeline reading the JSON lines never learnt why a pipeline
 * was missing.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer | undefined;
let dir: string | undefined;

describe('startup rejections in the JSON log', () => {
  afterAll(async () => {
    await srv?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('logs a warn line naming the file and its problems', async () => {
    dir = await demoConfigs();
    await writeFile(join(dir, 'broken.yaml'), 'pipeline: {name: broken, item_type: sku_id, initialization: {includes: [NoSuchThing]}}\n');
    const lines: Record<string, unknown>[] = [];
    const logger = new Logger({ level: 'warn', sink: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) }, pretty: false });
    srv = await server({ configs: dir, threads: 0, observe: new Observability({ metrics: false, logger }) });
    logger.flush();
    const line = lines.find((l) => String(l['msg']).startsWith('config rejected at startup'));
    expect(line).toMatchObject({ level: 'warn', files: ['broken.yaml'] });
    expect(line!['errors']).toEqual([expect.stringMatching(/broken\.yaml:1:\d+: .*NoSuchThing.*\[UNKNOWN_OPERATOR\]$/)]);
    expect(String(line!['msg'])).toContain('not served');
  });
});
