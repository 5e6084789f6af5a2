/**
 * Issue: an input a pipeline does not take was answered "/n 'n' is not a known property", and a
 * newcomer had to go to GET /pipelines to learn what the pipeline takes. The 422 (POST, GET and the
 * fast lane alike) now lists the pipeline's inputs, or says it takes none.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let srv: RunningServer;
let base: string;

beforeAll(async () => {
  const dir = await tempDir('airmail-input-names-');
  await writeFile(join(dir, 'p.yaml'), [
    'pipelines:',
    '- name: by_colour',
    '  item_type: id',
    '  initialization: {includes: [{name: Static, parameters: {items: [{id: 1, c: red}, {id: 2, c: blue}]}}]}',
    '  operations: [{name: Match, parameters: {column: c, value: $colour}}, {name: Limit, parameters: {n: $n}}]',
    '- name: fixed',
    '  item_type: id',
    '  initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}',
    '',
  ].join('\n'));
  srv = await server({ configs: dir, threads: 1, watch: false });
  base = `http://127.0.0.1:${srv.port}`;
});
afterAll(async () => srv?.close());

async function post(path: string, body: unknown): Promise<{ status: number; json: { reason: string; errors: { path: string; message: string }[] } }> {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as { reason: string; errors: { path: string; message: string }[] } };
}

describe('an input the pipeline does not take', () => {
  it('names the inputs it does take, by POST and GET', async () => {
    const r = await post('/pipelines/by_colour', { colour: 'red', n: 1, size: 'M' });
    expect(r.status).toBe(422);
    expect(r.json.errors).toEqual([{ path: '/size', message: "'size' is not a known property: the pipeline's inputs are 'colour', 'n'" }]);
    expect(r.json.reason).toContain("the pipeline's inputs are 'colour', 'n'");
    const g = await fetch(`${base}/pipelines/by_colour?colour=red&n=1&size=M`);
    expect(g.status).toBe(422);
    expect(JSON.stringify(await g.json())).toContain("the pipeline's inputs are 'colour', 'n'");
  });

  it('says when the pipeline takes none', async () => {
    const r = await post('/pipelines/fixed', { client_id: 1 });
    expect(r.status).toBe(422);
    expect(r.json.errors[0]!.message).toBe("'client_id' is not a known property: the pipeline takes no inputs");
  });

  it('keeps "did you mean" for a misspelling', async () => {
    const r = await post('/pipelines/by_colour', { color: 'red', n: 1 });
    expect(r.json.errors.map((e) => e.message)).toContain("'color' is not a known property (did you mean 'colour'?)");
  });
});
