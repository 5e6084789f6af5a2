/**
 * An operator folder outside the configs directory (`operator_paths: [../my-operators]`, as the
 * README's own example) was shown by its absolute path in GET /pipelines' rejections (`file`, and
 * the message of the config that names it) and in the log lines, while every other file is shown
 * relative to the configs directory: it is now `../my-operators/bad.ts` there too.
 *
 * A first fix (61898c8, reverted) made every absolute `file` relative but rewrote messages only
 * where the folders were shared, so `airmail validate` run in the repository on configs under /tmp
 * printed `../../tmp/airmail-.../ops/x.js: ... in /tmp/airmail-.../configs/p.yaml`: file and message
 * disagreeing, and not what the README and test/custom-operator-file-errors.test.ts say. The second
 * block has the configs and the operator folder at different depths (not siblings) and checks both
 * surfaces: GET /pipelines, and `airmail validate` run from three places.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { airmailCliIn, ROOT, server, tempDir } from './helpers.js';

const BAD = "export const InStock = { kind: 'filter' };\n\nthrow new Error('no stock table');\n";
const pipeline = (ops: string): string => `operator_paths: [${ops}]
pipeline: {name: p, item_type: sku_id, initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}, operations: [{name: InStock, parameters: {min: 1}}]}
`;
type Pipelines = { rejections: { files: string[]; diagnostics: { file?: string; message: string }[] }[] };

describe('a broken operator file beside the configs directory', () => {
  let home: string;
  let srv: RunningServer | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    home = await tempDir('airmail-outside-ops-');
    await mkdir(join(home, 'configs'));
    await mkdir(join(home, 'my-operators'));
    await writeFile(join(home, 'my-operators', 'bad.ts'), BAD);
    await writeFile(join(home, 'configs', 'p.yaml'), pipeline('../my-operators'));
    const logger = new Logger({ level: 'info', sink: { write: (s: string) => void lines.push(s) }, pretty: false });
    srv = await server({ configs: join(home, 'configs'), threads: 0, watch: false, observe: new Observability({ metrics: new EngineMetrics(), logger }) });
    expect(srv.startErrors.length).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await srv?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('GET /pipelines names it ../my-operators/bad.ts, never by its absolute path', async () => {
    const text = await (await fetch(`${srv!.url}/pipelines`)).text();
    expect(text).not.toContain(home);
    const diags = (JSON.parse(text) as Pipelines).rejections.flatMap((r) => r.diagnostics);
    expect(diags.map((d) => d.file)).toContain('../my-operators/bad.ts');
    expect(diags.some((d) => d.message.includes('(it may be defined in ../my-operators/bad.ts, which failed to load'))).toBe(true);
  });

  it('log lines name it relative too', () => {
    expect(lines.some((l) => l.includes('../my-operators/bad.ts'))).toBe(true);
    expect(lines.filter((l) => l.includes(home))).toEqual([]);
  });
});

describe('configs and operators at different depths (the fresh-clone CI failure)', () => {
  let home: string;
  let configs: string;
  let srv: RunningServer | undefined;
  const OPS = '../../../shared/ops';

  beforeAll(async () => {
    home = await tempDir('airmail-deep-ops-');
    configs = join(home, 'teams', 'search', 'configs');
    await mkdir(configs, { recursive: true });
    await mkdir(join(home, 'shared', 'ops'), { recursive: true });
    await mkdir(join(home, 'work', 'sub'), { recursive: true });
    await writeFile(join(home, 'shared', 'ops', 'bad.ts'), BAD);
    await writeFile(join(configs, 'p.yaml'), pipeline(OPS));
    srv = await server({ configs, threads: 0, watch: false });
    expect(srv.startErrors.length).toBeGreaterThan(0);
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('GET /pipelines: the file, and the messages naming it, relative to the configs directory', async () => {
    const text = await (await fetch(`${srv!.url}/pipelines`)).text();
    expect(text).not.toContain(home);
    const diags = (JSON.parse(text) as Pipelines).rejections.flatMap((r) => r.diagnostics);
    const failed = diags.find((d) => d.file === `${OPS}/bad.ts`);
    expect(failed?.message).toContain(`failed to load: no stock table (a file of operator_paths '${OPS}' in p.yaml)`);
    expect(diags.some((d) => d.file === 'p.yaml' && d.message.includes(`(it may be defined in ${OPS}/bad.ts, which failed to load`))).toBe(true);
  });

  const validate = async (cwd: string): Promise<string[]> => {
    const r = await airmailCliIn(cwd, {}, 'validate', configs);
    expect(r.code).toBe(1);
    return r.stderr.split('\n').filter((l) => l.includes('[CONFIG_INVALID]') || l.includes('[UNKNOWN_OPERATOR]'));
  };

  it('airmail validate run in the configs directory prints what GET /pipelines shows', async () => {
    const lines = await validate(configs);
    expect(lines.join('\n')).not.toContain(home);
    const failed = lines.find((l) => l.startsWith(`${OPS}/bad.ts:`)) ?? lines.join('\n');
    expect(failed).toMatch(/^\.\.\/\.\.\/\.\.\/shared\/ops\/bad\.ts(:\d+:\d+)?: operator file bad\.ts failed to load: no stock table /);
    expect(failed.endsWith(`(a file of operator_paths '${OPS}' in p.yaml) [CONFIG_INVALID]`)).toBe(true);
    expect(lines.find((l) => l.startsWith('p.yaml:') && l.includes('[UNKNOWN_OPERATOR]'))).toContain(`(it may be defined in ${OPS}/bad.ts, which failed to load`);
  }, 60_000);

  it('airmail validate run elsewhere names the file and the config the same way, from there', async () => {
    const lines = await validate(join(home, 'work', 'sub'));
    expect(lines.join('\n')).not.toContain(home);
    const failed = lines.find((l) => l.startsWith('../../shared/ops/bad.ts:'));
    expect(failed).toContain(`(a file of operator_paths '${OPS}' in ../../teams/search/configs/p.yaml) [CONFIG_INVALID]`);
  }, 60_000);

  it('airmail validate run in the repository: file and message agree, never `../..` before a /tmp path', async () => {
    const lines = await validate(ROOT);
    // Relative to the repository where the two share a folder below `/`, else absolute (the usual case: /work/... and /tmp/...).
    const shown = (f: string): string => (ROOT.split(sep)[1] === f.split(sep)[1] ? relative(ROOT, f) : f);
    const failed = lines.find((l) => l.startsWith(`${shown(join(home, 'shared', 'ops', 'bad.ts'))}:`));
    expect(failed).toContain(`(a file of operator_paths '${OPS}' in ${shown(join(configs, 'p.yaml'))}) [CONFIG_INVALID]`);
    expect(lines.join('\n')).not.toContain(`..${home}`);
  }, 60_000);
});
