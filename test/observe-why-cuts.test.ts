/**
 * "Why not this item?" for items cut by a count-bounded step, on a small table
 * of our own: a DiverseSample is explained by the column it maximizes and the
 * item's place in its `by` group (it was cut as its group's third best, not for
 * its place in the order the rows came in), a Limit by the order entering it,
 * whatever the score says.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WhyAnswer } from '../engine/observe/types.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let dir: string;
let srv: RunningServer;

const ITEMS = [
  { id: 1, dept: 'shoes', price: 10, pop: 0.9 },
  { id: 2, dept: 'shoes', price: 20, pop: 0.8 },
  { id: 3, dept: 'hats', price: 30, pop: 0.7 },
  { id: 4, dept: 'hats', price: 40, pop: 0.6 },
  { id: 5, dept: 'shoes', price: 50, pop: 0.5 },
  { id: 6, dept: 'socks', price: 5, pop: 0.4 },
];

async function why(pipeline: string, item: number): Promise<WhyAnswer> {
  const r = await request(`${srv.url}/pipelines/${pipeline}/why`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ item }) });
  expect(r.statusCode).toBe(200);
  return ((await r.body.json()) as { why: WhyAnswer }).why;
}

describe('why on a cut, by what the cutting step ranks by', () => {
  beforeAll(async () => {
    dir = await tempDir();
    await writeFile(join(dir, 'items.json'), JSON.stringify(ITEMS));
    await writeFile(join(dir, 'main.yaml'), `datasets:
  items: {path: items.json, key: id}
pipelines:
- name: diverse
  item_type: id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {dept: [shoes, hats, socks]}}}]
  operations:
  - {name: DiverseSample, parameters: {n: 4, maximize: price, by: dept}}
- name: scored_then_price
  item_type: id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {dept: [shoes, hats, socks]}}}]
    scores: [{name: Column, parameters: {column: pop}}]
  operations:
  - {name: Sort, parameters: {by: price, desc: true}}
  - {name: Limit, parameters: {n: 2}}
`);
    srv = await server({ configs: dir });
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a DiverseSample cut gives the item's rank by the maximized column and in its group", async () => {
    // Round one takes each dept's best (5, 4, 6), round two the second bests by price (2, then 3): item 1,
    // the first row to enter, is the cheapest shoe, third of three in its group.
    const w = await why('diverse', 1);
    expect(w.verdict).toBe('cut');
    expect(w.removedBy?.step).toBe('DiverseSample');
    expect(w.rankedBy).toBe('price');
    expect([w.rank, w.of]).toEqual([5, 6]);
    expect(w.reason).toContain('price 10, rank 5 of 6 by price (3 of 3 with dept="shoes"), and cut by DiverseSample(n=4, maximize=price, by=dept)');
  });

  it('a Limit cut gives the order entering it, with the score, not a rank by score', async () => {
    // Sorted by price: 5, 4, 3, 2, 1, 6. Item 1 has the best score (pop 0.9) but enters Limit fifth.
    const w = await why('scored_then_price', 1);
    expect(w.verdict).toBe('cut');
    expect(w.rankedBy).toBe('order');
    expect([w.rank, w.of, w.score]).toEqual([5, 6, 0.9]);
    expect(w.reason).toContain('scored 0.900000, rank 5 of 6 in the order entering Limit, and cut by Limit(n=2)');
  });
});
