/**
 * An operator folder outside the configs directory (`operator_paths: [../my-operators]`, as the
 * README's own example) was shown by its absolute path in GET /pipelines' rejections (`file`, and
 * the message of the config that names it) and in the log lines, while every other file is shown
 * relative to the configs directory: it is now `../my-operators/bad.ts` there too.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicPaths } from '../engine/config/public-paths.js';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let home: string;
let srv: RunningServer | undefined;
const lines: string[] = [];

beforeAll(async () => {
  home = await tempDir('airmail-outside-ops-');
  await mkdir(join(home, 'configs'));
  await mkdir(join(home, 'my-operators'));
  await writeFile(join(home, 'my-operators', 'bad.ts'), "export const InStock = { kind: 'filter' };\nthrow new Error('no stock table');\n");
  await writeFile(join(home, 'configs', 'p.yaml'), `operator_paths: [../my-operators]
pipeline: {name: p, item_type: sku_id, initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}, operations: [{name: InStock, parameters: {min: 1}}]}
`);
  const logger = new Logger({ level: 'info', sink: { write: (s: string) => void lines.push(s) }, pretty: false });
  srv = await server({ configs: join(home, 'configs'), threads: 0, watch: false, observe: new Observability({ metrics: new EngineMetrics(), logger }) });
  expect(srv.startErrors.length).toBeGreaterThan(0);
});
afterAll(async () => {
  await srv?.close();
  await rm(home, { recursive: true, force: true });
});

describe('a broken operator file outside the configs directory', () => {
  it('GET /pipelines names it ../my-operators/bad.ts, never by its absolute path', async () => {
    const text = await (await fetch(`${srv!.url}/pipelines`)).text();
    expect(text).not.toContain(home);
    const body = JSON.parse(text) as { rejections: { files: string[]; diagnostics: { file?: string; message: string }[] }[] };
    const diags = body.rejections.flatMap((r) => r.diagnostics);
    expect(diags.map((d) => d.file)).toContain('../my-operators/bad.ts');
    expect(diags.some((d) => d.message.includes('(it may be defined in ../my-operators/bad.ts, which failed to load'))).toBe(true);
  });

  it('log lines name it relative too', () => {
    expect(lines.some((l) => l.includes('../my-operators/bad.ts'))).toBe(true);
    expect(lines.filter((l) => l.includes(join(home, 'my-operators')))).toEqual([]);
  });

  it('only where a path starts: a URL or a longer path holding the same folders is left alone', () => {
    const p = publicPaths('/srv/app/configs');
    expect(p.file('/srv/app/ops/x.ts')).toBe('../ops/x.ts');
    expect(p.file('/srv/app/configs/a.yaml')).toBe('a.yaml');
    expect(p.text("in /srv/app/ops/x.ts:4:8 and '/srv/lib/y.ts' (see http://h/srv/app/z, /var/srv/app/w)"))
      .toBe("in ../ops/x.ts:4:8 and '../../lib/y.ts' (see http://h/srv/app/z, /var/srv/app/w)");
    expect(publicPaths('/').file('/srv/x.yaml')).toBe('/srv/x.yaml');
  });
});
