/**
 * The `airmail` command line as a user runs it (bin/airmail.mjs in a child
 * process), and custom operators loaded from a folder named in a config.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { ROOT, server, tempDir } from './helpers.js';

const exec = promisify(execFile);
const BIN = join(ROOT, 'bin/airmail.mjs');

async function airmail(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('airmail CLI', () => {
  it('validate accepts the demo configs', async () => {
    const r = await airmail('validate', 'configs/demo.yaml', 'configs/my_pipeline.yaml', 'configs/complimentary_items.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: .*MyPipeline@[0-9a-f]+/);
  });

  it('validate exits non-zero with every problem, each with file, line and column', async () => {
    const r = await airmail('validate', 'test/fixtures/broken/many-errors.yaml');
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^\d+ problem\(s\)$/);
    expect(Number(lines.at(-1)!.split(' ')[0])).toBeGreaterThan(1);
    for (const l of lines.slice(0, -1).filter((x) => x.includes('many-errors.yaml'))) expect(l).toMatch(/many-errors\.yaml:\d+:\d+: .+ \[[A-Z_]+\]$/);
  });

  it('run executes a pipeline once and prints the response as JSON', async () => {
    const r = await airmail('run', 'MyPipeline', '--input', 'client_id=3');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as { items: { sku_id: number; score: number }[]; error: boolean; pipeline: string };
    expect(res.pipeline).toBe('MyPipeline');
    expect(res.error).toBe(false);
    expect(res.items.length).toBeGreaterThan(0);
    const scores = res.items.map((i) => i.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('--help prints the usage and exits 0; an unknown flag names itself and exits 2, without a stack trace', async () => {
    for (const cmd of ['serve', 'run', 'publish']) {
      const help = await airmail(cmd, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^usage:\n  airmail serve /);
    }
    const bad = await airmail('serve', '--prot', '9');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^airmail serve: Unknown option '--prot'/);
    expect(bad.stderr).toContain('usage:');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it('run names a missing input with the right code', async () => {
    const r = await airmail('run', 'complimentary_items');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^INPUT_INVALID: .*client_id/);
  });
});

describe('custom operators from a folder', () => {
  it('loads every operator a folder exports and runs them on the worker pool', async () => {
    const dir = await tempDir('airmail-custom-');
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data/items.json'), JSON.stringify([{ id: 1, color: 'red', w: 3 }, { id: 2, color: 'blue', w: 5 }, { id: 3, color: 'red', w: 7 }]));
    await writeFile(join(dir, 'custom.yaml'), [
      'operator_paths: [' + JSON.stringify(join(ROOT, 'test/fixtures/operators')) + ']',
      'datasets:',
      '  items: {path: data/items.json, key: id}',
      'pipeline:',
      '  name: custom',
      '  item_type: id',
      '  items: items',
      '  initialization:',
      '    includes: [{name: Ids, parameters: {ids: [1, 2, 3]}}]',
      '    scorer: [{name: Col, parameters: {column: w}}]',
      '  operations:',
      '  - {name: Eq, parameters: {column: color, value: red}}',
      '  - {name: Sort, parameters: {by: score, desc: true}}',
      '',
    ].join('\n'));
    const srv = await server({ configs: dir });
    try {
      expect(srv.startErrors).toEqual([]);
      const res = await request(`${srv.url}/pipelines/custom`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      const body = (await res.body.json()) as { items: { id: number; score: number }[] };
      expect(res.statusCode, JSON.stringify(body)).toBe(200);
      expect(body.items, JSON.stringify(body)).toEqual([{ id: 3, score: 7 }, { id: 1, score: 3 }]);
    } finally {
      await srv.close();
    }
  });
});
