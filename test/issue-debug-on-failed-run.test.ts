/**
 * `?debug=true` on a run whose operator threw (500 OPERATOR_FAILED) answered the bare error: no
 * `debug.steps` at all, so the person debugging a failing pipeline could not see which steps ran
 * and what they returned before it failed (the UI's trace table stayed empty). The steps that ran
 * now come with the error answer, from a worker as inline; without debug the answer is unchanged.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { ROOT, server, tempDir } from './helpers.js';

let srv: RunningServer;

beforeAll(async () => {
  const dir = await tempDir('airmail-debug-failed-');
  await writeFile(join(dir, 'p.yaml'), [
    `operator_paths: [${JSON.stringify(join(ROOT, 'test/fixtures/operators'))}]`,
    'pipelines:',
    '- name: breaks',
    '  item_type: id',
    '  initialization: {includes: [{name: Static, parameters: {items: [1, 2, 3]}}]}',
    '  operations: [{name: Limit, parameters: {n: 2}}, {name: Fault, parameters: {mode: throw}}]',
    '',
  ].join('\n'));
  srv = await server({ configs: dir, threads: 1, inlineUnderMs: 0, watch: false });
  expect(srv.startErrors).toEqual([]);
}, 60_000);
afterAll(async () => srv?.close());

const run = async (query: string): Promise<{ status: number; json: Record<string, unknown> }> => {
  const res = await request(`${srv.url}/pipelines/breaks${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
};

describe('?debug on a run that failed', () => {
  it('answers the error with the steps that ran before it', async () => {
    const { status, json } = await run('?debug=true');
    expect(status).toBe(500);
    expect(json).toMatchObject({ error: true, code: 'OPERATOR_FAILED', operator: 'Fault' });
    const steps = (json['debug'] as { steps: Record<string, unknown>[] } | undefined)?.steps;
    expect(steps?.map((s) => [s['step'], s['rowsOut']])).toEqual([['Static', 3], ['Limit', 2]]);
    expect(steps?.[1]).toMatchObject({ kept: [1, 2], removed: [3] });
  });

  it('leaves an answer without debug as it was', async () => {
    const { status, json } = await run('');
    expect(status).toBe(500);
    expect(json['debug']).toBeUndefined();
  });
});
