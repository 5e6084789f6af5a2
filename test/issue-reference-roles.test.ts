/**
 * Where a request input (`$name`) may stand. `Static` `items: $ids` (the whole list from the
 * request) took `serve` down at start ("items.forEach is not a function"); a column named by an
 * input (`Sort by: $x`, `Match column: $x`, `Hydrate columns: $x`) loaded but failed every request
 * with UNKNOWN_COLUMN, did nothing, or crashed the load; `where: $w` was read as text and reported
 * "no column '0'". Now the list reference serves, and the others are load errors at the reference.
 * Without a dataset behind the item type, `items: $ids` took one id, not a list (`{"ids": [5, 6]}`
 * was a 422 "must be a number or a string"), against the README's "a reference stands for a value or
 * a list of values (`items: $ids` in `Static`)".
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigSet } from '../engine/config/load.js';
import type { RunningServer } from '../engine/server.js';
import { OPS, server, tempDir } from './helpers.js';

const DATA = JSON.stringify([{ id: 1, cat: 'a', w: 2 }, { id: 2, cat: 'b', w: 1 }, { id: 4, cat: 'a', w: 3 }]);
const pipeline = (step: string): string => `pipeline:
  name: t
  item_type: id
  items: items
  initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}], scores: [{name: Column, parameters: {column: w}}]}
  operations: [${step}]
`;

describe('request inputs in parameters', () => {
  let dir: string;
  let srv: RunningServer;
  beforeAll(async () => {
    dir = await tempDir('airmail-ref-roles-');
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'items.json'), DATA);
    await writeFile(join(dir, 'configs', 'p.yaml'), `datasets:
  items: {path: ../items.json, key: id}
pipeline:
  name: picked
  item_type: id
  initialization: {includes: [{name: Static, parameters: {items: $ids}}]}
  return: [id, cat]
`);
    srv = await server({ configs: join(dir, 'configs'), threads: 0 });
  });
  afterAll(async () => { await srv?.close(); });

  it('Static items: $ids serves the ids the request lists, by GET and POST', async () => {
    expect(srv.startErrors).toEqual([]);
    const get = await (await fetch(`${srv.url}/pipelines/picked?ids=4&ids=1`)).json() as { items: unknown[] };
    expect(get.items).toEqual([{ id: 4, cat: 'a' }, { id: 1, cat: 'a' }]);
    const post = await fetch(`${srv.url}/pipelines/picked`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ids": [2]}' });
    expect(((await post.json()) as { items: unknown[] }).items).toEqual([{ id: 2, cat: 'b' }]);
    const bad = await fetch(`${srv.url}/pipelines/picked`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ids": ["k"]}' });
    expect(bad.status).toBe(422);
  });

  const load = (text: string) => loadConfigSet([{ path: join(dir, 'configs', 'p.yaml'), text: `datasets:\n  items: {path: ../items.json, key: id}\n${text}` }], { operators: OPS });
  it.each([
    ['{name: Sort, parameters: {by: $x}}', '/pipeline/operations/0/parameters/by', 'names a column'],
    ['{name: Match, parameters: {column: $x, value: a}}', '/pipeline/operations/0/parameters/column', 'names a column'],
    ['{name: Hydrate, parameters: {columns: $x}}', '/pipeline/operations/0/parameters/columns', 'names a column'],
    ['{name: Exclude, parameters: {dataset: items, where: $x}}', '/pipeline/operations/0/parameters/where', 'reference its values'],
  ])('%s is a load error at the reference', async (step, pointer, says) => {
    const r = await load(pipeline(step));
    expect(r.diagnostics.map((d) => [d.code, d.pointer])).toEqual([['BAD_PARAMETER', pointer]]);
    expect(r.diagnostics[0]!.message).toContain(says);
  });

  it('Static items: $ids takes a list of ids also where no dataset types the item id', async () => {
    const noData = await tempDir('airmail-ref-roles-nodata-');
    await writeFile(join(noData, 'p.yaml'), `pipeline:
  name: ids
  item_type: product_id
  initialization: {includes: [{name: Static, parameters: {items: $ids}}]}
`);
    const s2 = await server({ configs: noData, threads: 0 });
    try {
      expect(s2.startErrors).toEqual([]);
      const post = await fetch(`${s2.url}/pipelines/ids`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ids": [5, 6]}' });
      expect(post.status).toBe(200);
      expect(((await post.json()) as { items: unknown[] }).items).toEqual([{ product_id: 5 }, { product_id: 6 }]);
      // A query has no types of its own: with no column to type them, ids stay text (as a lone `?id=7` does).
      const get = await (await fetch(`${s2.url}/pipelines/ids?ids=k7&ids=k8`)).json() as { items: unknown[] };
      expect(get.items).toEqual([{ product_id: 'k7' }, { product_id: 'k8' }]);
      const bad = await fetch(`${s2.url}/pipelines/ids`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ids": [{"x": 1}]}' });
      expect(bad.status).toBe(422);
    } finally {
      await s2.close();
    }
  });
});
