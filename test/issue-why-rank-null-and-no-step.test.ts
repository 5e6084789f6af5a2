/**
 * Two wrong "why" answers the why differential test (why-differential.test.ts) found:
 * - an item cut by DiverseSample whose `maximize` value is null read "rank N of N" (and "N of N" in
 *   its group) whatever its place, though DiverseSample ranks nulls last among themselves by
 *   smaller id: two null items both claimed to be last;
 * - an item kept by a pipeline with no scorer and no operation was answered `kept` with no
 *   position, though the README says `kept` comes with its position: the result is the
 *   candidates in their order (includes' first appearances, minus the excludes).
 * Run on the worker pool, as a served request is.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhyAnswer } from '../engine/observe/types.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let srv: RunningServer;

beforeAll(async () => {
  const dir = await tempDir('airmail-why-rank-');
  await mkdir(join(dir, 'data'));
  // w: 5 and 4 for ids 6 and 7; null for 1..5 (all of group cat=a but 7).
  const rows: { id: number; cat: string; w: number | null }[] = [1, 2, 3, 4, 5].map((id) => ({ id, cat: 'a', w: null }));
  rows.push(...[{ id: 6, cat: 'a', w: 5 }, { id: 7, cat: 'b', w: 4 }]);
  await writeFile(join(dir, 'data/items.json'), JSON.stringify(rows));
  await writeFile(join(dir, 'p.yaml'), [
    'datasets:',
    '  items: {path: data/items.json, key: id, columns: {id: integer, cat: string, w: number}}',
    'pipelines:',
    '- name: diverse',
    '  item_type: id',
    '  initialization: {includes: [{name: Static, parameters: {items: [5, 4, 3, 2, 1, 6, 7]}}]}',
    '  operations: [{name: DiverseSample, parameters: {n: 2, maximize: w, by: cat}}]',
    '- name: bare',
    '  item_type: id',
    '  initialization:',
    '    includes: [{name: Static, parameters: {items: [5, 1]}}, {name: Static, parameters: {items: [2, 1, 3]}}]',
    '    excludes: [{name: Static, parameters: {items: [1]}}]',
    '',
  ].join('\n'));
  srv = await server({ configs: dir, threads: 1, inlineUnderMs: 0, watch: false });
  expect(srv.startErrors).toEqual([]);
}, 60_000);
afterAll(async () => srv?.close());

const why = async (pipeline: string, item: number): Promise<WhyAnswer> => {
  const res = await request(`${srv.url}/pipelines/${pipeline}/why`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: {}, item }) });
  expect(res.statusCode).toBe(200);
  return ((await res.body.json()) as { why: WhyAnswer }).why;
};

describe('why: ranks of null values, and the place of an item no step touched', () => {
  it('ranks a cut item with a null maximize value after the numbers and after the nulls of smaller id', async () => {
    // By w descending, nulls last, ties by id: 6, 7, 1, 2, 3, 4, 5; in group a: 6, 1, 2, 3, 4, 5.
    const a = await why('diverse', 2);
    expect([a.verdict, a.rankedBy, a.rank, a.of]).toEqual(['cut', 'w', 4, 7]);
    expect(a.reason).toContain('rank 4 of 7 by w (3 of 6 with cat="a")');
    const b = await why('diverse', 5);
    expect([b.rank, b.of]).toEqual([7, 7]);
    expect(b.reason).toContain('(6 of 6 with cat="a")');
  });

  it('gives a kept item its position when the pipeline has no scorer and no operation', async () => {
    // Candidates: 5, 1, 2, 3 minus 1 → 5, 2, 3.
    for (const [item, rank] of [[5, 1], [2, 2], [3, 3]] as const) {
      const w = await why('bare', item);
      expect([w.verdict, w.rank, w.of]).toEqual(['kept', rank, 3]);
      expect(w.reason).toContain(`position ${rank} of 3 in the result`);
    }
    expect((await why('bare', 1)).verdict).toBe('excluded');
  });
});
