/**
 * What operators exist and what they take could be learnt only from the README's table or the
 * source: no route listed them (nor their parameters in /openapi.json) and no command printed them.
 * GET /operators, GET /operators/{name} and `airmail operators [NAME]` now give the catalogue: every
 * built-in and custom operator (with the file it came from) and every preset of the loaded configs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { airmailCli, ROOT, server, tempDir } from './helpers.js';

const BOOST = `import { defineOperator } from ${JSON.stringify(join(ROOT, 'engine/api.ts'))};
export const boost = defineOperator({
  kind: 'transform', name: 'Boost', summary: 'Keeps every row (a test operator).',
  parameters: { type: 'object', properties: { factor: { type: 'number', default: 2, description: 'how much' }, mode: { enum: ['a', 'b'] } }, additionalProperties: false },
  run: (_p, input) => ({ rows: input.rows }),
});
`;
const CONFIG = `operator_paths: [./ops]
operators:
  Items: {use: Static, parameters: {items: [{sku_id: 1}, {sku_id: 2}]}}
  Top1: {use: Limit, parameters: {n: 1}, description: just one}
pipeline:
  name: tiny
  item_type: sku_id
  initialization:
    includes: [Items]
  operations:
  - {name: Boost}
  - {name: Top1}
`;

let configs: string;
let srv: RunningServer;
beforeAll(async () => {
  configs = await tempDir('airmail-catalogue-');
  await mkdir(join(configs, 'ops'));
  await writeFile(join(configs, 'ops', 'boost.ts'), BOOST);
  await writeFile(join(configs, 'p.yaml'), CONFIG);
  srv = await server({ configs, threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

async function get(path: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${srv.url}${path}`);
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

interface Op { name: string; kind: string; source: string; parameters: { name: string; type: string; required: boolean; default?: unknown; enum?: unknown[] }[]; presets: string[] }

describe('GET /operators', () => {
  it('lists the built-ins with their parameters, a custom operator with its file, and the presets', async () => {
    const { status, json } = await get('/operators');
    expect(status).toBe(200);
    const ops = json['operators'] as Op[];
    const limit = ops.find((o) => o.name === 'Limit');
    expect(limit).toMatchObject({ kind: 'transform', source: 'built-in', presets: ['Top1'] });
    expect(limit?.parameters).toEqual([{ name: 'n', type: 'integer', required: true }]);
    expect(ops.find((o) => o.name === 'Match')?.parameters.find((p) => p.name === 'op')).toMatchObject({ required: false, default: '==', enum: ['==', '!=', 'in', 'not_in'] });
    expect(ops.find((o) => o.name === 'Sort')).toMatchObject({ required_one_of: [['by'], ['score']] });
    expect(ops.find((o) => o.name === 'Dedupe')?.parameters.find((p) => p.name === 'by')?.type).toBe('string | string[]');
    expect(ops.find((o) => o.name === 'Boost')).toMatchObject({
      kind: 'transform', source: join('ops', 'boost.ts'),
      parameters: [{ name: 'factor', type: 'number', required: false, default: 2, description: 'how much' }, { name: 'mode', type: 'string', required: false, enum: ['a', 'b'] }],
    });
    for (const name of ['Static', 'Lookup', 'Match', 'Range', 'Exclude', 'Column', 'ModelScore', 'Hydrate', 'Sort', 'Dedupe', 'DiverseSample', 'Sample']) {
      expect(ops.map((o) => o.name)).toContain(name);
    }
    expect(json['presets']).toEqual([
      { name: 'Items', use: 'Static', parameters: { items: [{ sku_id: 1 }, { sku_id: 2 }] }, file: 'p.yaml' },
      { name: 'Top1', use: 'Limit', parameters: { n: 1 }, description: 'just one', file: 'p.yaml' },
    ]);
  });

  it('GET /operators/{name}: an operator, or a preset with its operator', async () => {
    const op = await get('/operators/Boost');
    expect(op.status).toBe(200);
    expect(op.json['operator']).toMatchObject({ name: 'Boost', source: join('ops', 'boost.ts') });
    const preset = await get('/operators/Top1');
    expect(preset.json).toMatchObject({ preset: { name: 'Top1', use: 'Limit', file: 'p.yaml' }, operator: { name: 'Limit' } });
  });

  it('an unknown name is 404 OPERATOR_NOT_FOUND in the error shape, naming the nearest', async () => {
    const r = await get('/operators/limt');
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ error: true, items: [], code: 'OPERATOR_NOT_FOUND' });
    expect(r.json['reason']).toContain("(did you mean 'Limit'?)");
    expect((await get('/operators/Zzzzzzzz')).json['reason']).not.toContain('did you mean');
  });

  it('is in /openapi.json', async () => {
    const paths = (await get('/openapi.json')).json['paths'] as Record<string, Record<string, unknown>>;
    expect(paths['/operators']).toHaveProperty('get');
    expect(paths['/operators/{name}']).toHaveProperty('get');
  });
});

describe('airmail operators', () => {
  it('prints the table of operators and presets; NAME prints its parameters', async () => {
    const all = await airmailCli({}, 'operators', '--configs', configs);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^Limit\s+transform\s+built-in\s+n\*$/m);
    expect(all.stdout).toMatch(new RegExp(`^Boost\\s+transform\\s+${join('ops', 'boost.ts').replace(/[./\\]/g, '\\$&')}\\s+factor, mode$`, 'm'));
    expect(all.stdout).toMatch(/^Sort\s+transform\s+built-in\s+by, score, desc \(one of by, score required\)$/m);
    expect(all.stdout).toMatch(/^Top1\s+Limit\s+p\.yaml\s+\{"n":1\}$/m);
    const one = await airmailCli({}, 'operators', 'Boost', '--configs', configs);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^ {2}factor\s+number\s+optional\s+default 2\s+how much$/m);
    expect(one.stdout).toMatch(/^ {2}mode\s+string\s+optional\s+one of a, b$/m);
    const json = await airmailCli({}, 'operators', 'Limit', '--json', '--configs', configs);
    expect(JSON.parse(json.stdout)).toMatchObject({ operator: { name: 'Limit', presets: ['Top1'] } });
  });

  it('exit codes: 1 for an unknown name (with the nearest) or a missing configs directory, 2 for a bad command line', async () => {
    const unknown = await airmailCli({}, 'operators', 'limt', '--configs', configs);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("airmail operators: no operator or preset named 'limt' is installed (did you mean 'Limit'?)");
    expect((await airmailCli({}, 'operators', '--configs', join(configs, 'nope'))).code).toBe(1);
    const extra = await airmailCli({}, 'operators', 'a', 'b');
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain("unexpected argument 'b'");
    const help = await airmailCli({}, 'operators', '--help');
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining('airmail operators [NAME] [--configs DIR]')]);
  });
});
