/**
 * Regression: a custom operator that answered the wrong shape was served a silent wrong answer or
 * an error that did not say what was wrong. A scorer returning text scored every row null; a filter
 * that reversed `input.rows` in place answered its rows backwards; a transform column given as a
 * plain list read as "0 values for 6 rows", one mixing numbers and text likewise; a source returning
 * a bare list, or a transform returning nothing, failed with "Cannot read properties of undefined".
 * Each is now an error naming the step and what it returned; plain lists of numbers or of text, and
 * null scores, are read as the README's shapes. Through the server, on the worker pool.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { server, tempDir } from './helpers.js';

const OPS = `
const T = { type: 'object' };
export const ops = [
  { kind: 'source', name: 'Six', summary: 's', parameters: T, run: () => ({ ids: [1, 2, 3, 4, 5, 6] }) },
  { kind: 'source', name: 'BareList', summary: 's', parameters: T, run: () => [1, 2] },
  { kind: 'score', name: 'TextScore', summary: 's', parameters: T, run: (p, i) => Array.from(i.rows, () => 'x') },
  { kind: 'score', name: 'ListScore', summary: 's', parameters: T, run: (p, i) => Array.from(i.rows, (r, k) => (k === 0 ? null : k)) },
  { kind: 'filter', name: 'Reverses', summary: 's', parameters: T, run: (p, i) => { i.rows.reverse(); return i.rows.subarray(0, 2); } },
  { kind: 'transform', name: 'Nothing', summary: 's', parameters: T, run: () => undefined },
  { kind: 'transform', name: 'Mixed', summary: 's', parameters: T, writes: () => ['c'], run: (p, i) => ({ columns: { c: Array.from(i.rows, (r, k) => (k % 2 ? 'a' : 1)) } }) },
  { kind: 'transform', name: 'Lists', summary: 's', parameters: T, writes: () => ['n', 't'], run: (p, i) => ({ columns: { n: Array.from(i.rows, (r) => r * 10), t: Array.from(i.rows, (r) => (r ? 'r' + r : null)) } }) },
];
`;

const pipeline = (name: string, init: string, ops: string, ret = '[id]'): string =>
  `pipeline:\n  name: ${name}\n  item_type: id\n  initialization: {${init}}\n  operations: [${ops}]\n  return: ${ret}\n`;

let srv: Awaited<ReturnType<typeof server>>;
beforeAll(async () => {
  const home = await tempDir('airmail-shapes-');
  await mkdir(join(home, 'ops'));
  await mkdir(join(home, 'configs'));
  await writeFile(join(home, 'ops', 'ops.js'), OPS);
  await writeFile(join(home, 'configs', 'defs.yaml'), 'operator_paths: [../ops]\n');
  const files: Record<string, string> = {
    bare: pipeline('bare', 'includes: [BareList]', ''),
    text: pipeline('text', 'includes: [Six], scores: [TextScore]', ''),
    list: pipeline('list', 'includes: [Six], scores: [ListScore]', '', '[id, score]'),
    reverses: pipeline('reverses', 'includes: [Six]', 'Reverses'),
    nothing: pipeline('nothing', 'includes: [Six]', 'Nothing'),
    mixed: pipeline('mixed', 'includes: [Six]', 'Mixed', '[id, c]'),
    lists: pipeline('lists', 'includes: [Six]', '{name: Limit, parameters: {n: 2}}, Lists', '[id, n, t]'),
  };
  for (const [f, text] of Object.entries(files)) await writeFile(join(home, 'configs', `${f}.yaml`), text);
  srv = await server({ configs: join(home, 'configs'), threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
}, 60_000);
afterAll(() => srv?.close());

async function run(name: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> };
}

describe('a custom operator that answers the wrong shape', () => {
  it('a source returning a bare list fails its step, saying what a source returns', async () => {
    const { body } = await run('bare');
    expect(body).toMatchObject({ error: true, code: 'SOURCE_FAILED', operator: 'BareList', reason: 'BareList() failed: it returned a list; a source returns {ids: [...]} (and optionally columns)' });
  });

  it('a scorer returning text is an error at the step, not null scores', async () => {
    const { status, body } = await run('text');
    expect(status).toBe(500);
    expect(body).toMatchObject({ code: 'OPERATOR_FAILED', operator: 'TextScore', reason: 'TextScore returned "x" as a score (at 0); a score is a number (null or NaN: none)' });
  });

  it('a scorer returning a plain list of numbers and nulls is read as scores', async () => {
    const { status, body } = await run('list');
    expect(status).toBe(200);
    expect(body['items']).toEqual([{ id: 1, score: null }, { id: 2, score: 1 }, { id: 3, score: 2 }, { id: 4, score: 3 }, { id: 5, score: 4 }, { id: 6, score: 5 }]);
  });

  it('a filter that changes input.rows in place is an error, not rows in the wrong order', async () => {
    const { status, body } = await run('reverses');
    expect(status).toBe(500);
    expect(body).toMatchObject({ code: 'OPERATOR_FAILED', operator: 'Reverses', reason: 'Reverses changed its input rows in place (input.rows is read-only: sort or reverse a copy, input.rows.slice())' });
  });

  it('a transform returning nothing says what a transform returns', async () => {
    const { body } = await run('nothing');
    expect(body).toMatchObject({ code: 'OPERATOR_FAILED', operator: 'Nothing', reason: 'Nothing returned undefined; a transform returns {rows?, columns?}' });
  });

  it('a column mixing numbers and text is refused, naming both', async () => {
    const { body } = await run('mixed');
    expect(body).toMatchObject({ code: 'OPERATOR_FAILED', operator: 'Mixed', reason: `Mixed returned column 'c' mixing numbers and text (1 at 0, "a" at 1); a column holds one type` });
  });

  it('plain lists of numbers or of text are columns', async () => {
    const { status, body } = await run('lists');
    expect(status).toBe(200);
    expect(body['items']).toEqual([{ id: 1, n: 0, t: null }, { id: 2, n: 10, t: 'r1' }]);
  });
});
