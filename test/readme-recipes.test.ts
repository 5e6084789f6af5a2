/**
 * The README's "Recipes" (merchandising asks: trending for a client with a brand cap, campaign SKUs
 * pinned first, personalised with a trending fallback pipeline (and mixed with trending), page 2, a weighted score, more from this
 * brand, new arrivals) are run as written, read out of README.md, on generated retail data, and
 * each answer is checked against one computed here in plain JS, without Airmail. Pinning and paging
 * could not be written before `Pin` and `Offset`: a boost weight nulls the score of every unpinned
 * item, and there was no offset.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { ROOT, server, tempDir } from './helpers.js';

interface Product { product_id: number; brand: string; department: string; price: number; stock: number; launched_on: string; margin: number; affinity: number }
interface Row { product_id: number; [k: string]: unknown }

let seed = 7;
const rnd = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
/** The server's clock (an engine option): time windows resolve against it. */
const NOW = Date.UTC(2024, 9, 10, 12);
const DAY = 86_400_000;
const BRANDS = ['Acme', 'Borealis', 'Cobalt', 'Dune', 'Ember', 'Fjord'];
const DEPTS = ['shoes', 'tops', 'bottoms', 'outerwear'];
const catalog: Product[] = Array.from({ length: 240 }, (_, i) => ({
  product_id: 1001 + i, brand: pick(BRANDS), department: pick(DEPTS), price: Math.round((5 + rnd() * 120) * 100) / 100,
  stock: rnd() < 0.25 ? 0 : Math.floor(rnd() * 50), launched_on: new Date(NOW - Math.floor(rnd() * 90) * DAY).toISOString().slice(0, 10),
  margin: Math.round(rnd() * 60) / 100, affinity: Math.round(rnd() * 1000) / 1000,
}));
// Client 9 prefers a brand with no products: the personalised part is empty.
const clients = [...Array.from({ length: 8 }, (_, i) => ({ client_id: i + 1, department: DEPTS[i % DEPTS.length]!, preferred_brand: BRANDS[i % BRANDS.length]! })),
  { client_id: 9, department: 'shoes', preferred_brand: 'Nobody' }];
// Bought up to 60 days back, to the second (some exactly 30 days back: the window's edge is inclusive).
const purchases = Array.from({ length: 150 }, (_, i) => ({ client_id: 1 + Math.floor(rnd() * 8), product_id: pick(catalog).product_id,
  purchased_at: new Date(i % 10 === 0 ? NOW - 30 * DAY : NOW - Math.floor(rnd() * 60 * DAY / 1000) * 1000).toISOString().replace('.000Z', 'Z') }));
const trending = catalog.filter(() => rnd() < 0.7).map((p) => ({ product_id: p.product_id, views: Math.floor(rnd() * 5000) }));
// 1002 is pinned but not trending (its score is null); 1100 and 1150 both trend.
const campaigns = [{ campaign: 'summer', product_id: 1150, rank: 2 }, { campaign: 'summer', product_id: 1002, rank: 1 }, { campaign: 'summer', product_id: 1100, rank: 3 }, { campaign: 'winter', product_id: 1010, rank: 1 }];
if (trending.some((t) => t.product_id === 1002)) trending.splice(trending.findIndex((t) => t.product_id === 1002), 1);
for (const id of [1100, 1150]) if (!trending.some((t) => t.product_id === id)) trending.push({ product_id: id, views: 10 });

// The expected answers, from the data alone.
const byId = new Map(catalog.map((p) => [p.product_id, p]));
const client = (c: number): (typeof clients)[number] => clients.find((x) => x.client_id === c)!;
const views = new Map(trending.map((t) => [t.product_id, t.views]));
const desc = (f: (id: number) => number) => (a: number, b: number): number => f(b) - f(a) || a - b;
const rankedTrending = (): number[] => [...views.keys()].sort(desc((id) => views.get(id)!));
const expected = {
  trendingForClient(c: number, n: number, skip: number[]): number[] {
    const bought = new Set(purchases.filter((x) => x.client_id === c).map((x) => x.product_id));
    const perBrand = new Map<string, number>();
    return rankedTrending()
      .filter((id) => !bought.has(id) && !skip.includes(id) && byId.get(id)!.department === client(c).department)
      .filter((id) => { const b = byId.get(id)!.brand; perBrand.set(b, (perBrand.get(b) ?? 0) + 1); return perBrand.get(b)! <= 2; })
      .slice(0, n);
  },
  campaignFirst(name: string): number[] {
    const pins = campaigns.filter((c) => c.campaign === name).sort((a, b) => a.rank - b.rank).map((c) => c.product_id);
    return [...pins, ...rankedTrending().filter((id) => !pins.includes(id))].slice(0, 10);
  },
  forYou(c: number): number[] {
    const mine = catalog.filter((p) => p.brand === client(c).preferred_brand).map((p) => p.product_id).sort(desc((id) => byId.get(id)!.affinity));
    return mine.length >= 3 ? mine.slice(0, 10) : rankedTrending().slice(0, 10);
  },
  forYouMixed(c: number): number[] {
    const mine = catalog.filter((p) => p.brand === client(c).preferred_brand).map((p) => p.product_id).sort(desc((id) => byId.get(id)!.affinity));
    return [...mine, ...rankedTrending().filter((id) => !mine.includes(id))].slice(0, 10);
  },
  page: (offset: number, size: number): number[] => rankedTrending().slice(offset, offset + size),
  moreFromBrand(pid: number): [number, number][] {
    const score = (p: Product): number => 0.7 * p.affinity + 0.3 * p.margin;
    return catalog.filter((p) => p.brand === byId.get(pid)!.brand && p.product_id !== pid && p.stock >= 1 && p.price >= 20 && p.price <= 80)
      .sort((a, b) => score(b) - score(a) || a.product_id - b.product_id).slice(0, 8).map((p) => [p.product_id, score(p)]);
  },
  newArrivals: (): number[] => catalog.filter((p) => Date.parse(p.launched_on) >= Math.floor((NOW - 14 * DAY) / DAY) * DAY).map((p) => p.product_id).sort((a, b) => byId.get(a)!.price - byId.get(b)!.price || a - b),
  notBoughtLately(c: number): number[] {
    const lately = new Set(purchases.filter((x) => x.client_id === c && Date.parse(x.purchased_at) >= NOW - 30 * DAY).map((x) => x.product_id));
    return rankedTrending().filter((id) => !lately.has(id)).slice(0, 10);
  },
};

/** The YAML blocks of the README's Recipes section, in order. */
async function recipeBlocks(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n### Recipes\n');
  const end = readme.indexOf('\n### ', start + 5);
  expect(start).toBeGreaterThan(0);
  return [...readme.slice(start, end).matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('README recipes, run as written on retail data', () => {
  let dir: string;
  let srv: RunningServer;
  beforeAll(async () => {
    dir = await tempDir('airmail-recipes-');
    await mkdir(join(dir, 'data'));
    for (const [name, rows] of Object.entries({ catalog, clients, purchases, trending, campaigns })) await writeFile(join(dir, 'data', `${name}.json`), JSON.stringify(rows));
    const blocks = await recipeBlocks();
    expect(blocks.length).toBe(8);
    await writeFile(join(dir, 'shop.yaml'), blocks[0]!);
    for (let k = 1; k < blocks.length; k++) await writeFile(join(dir, `recipe-${k}.yaml`), blocks[k]!);
    srv = await server({ configs: dir, threads: 0, clock: () => NOW });
  });
  afterAll(async () => { await srv?.close(); if (dir) await rm(dir, { recursive: true, force: true }); });

  const post = async (name: string, inputs: object): Promise<Row[]> => {
    const res = await fetch(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(inputs) });
    const body = (await res.json()) as { items: Row[]; error: boolean; reason: string | null };
    expect(body.error, body.reason ?? '').toBe(false);
    return body.items;
  };
  const ids = (rows: Row[]): number[] => rows.map((r) => r.product_id);

  it('loads every recipe', () => {
    expect(srv.startErrors).toEqual([]);
  });

  it('trending in the client department, minus bought and skipped, 2 per brand, n per request', async () => {
    for (const c of [1, 2, 3, 4]) expect(ids(await post('trending_for_client', { client_id: c }))).toEqual(expected.trendingForClient(c, 10, []));
    const top = expected.trendingForClient(3, 10, []);
    const skip = [top[0]!, top[2]!];
    expect(ids(await post('trending_for_client', { client_id: 3, n: 5, skip }))).toEqual(expected.trendingForClient(3, 5, skip));
    const q = await (await fetch(`${srv.url}/pipelines/trending_for_client?client_id=3&n=5&skip=${skip[0]}&skip=${skip[1]}`)).json() as { items: Row[] };
    expect(ids(q.items)).toEqual(expected.trendingForClient(3, 5, skip));
  });

  it('pins the campaign SKUs first, in rank order, then the rest by score', async () => {
    const got = ids(await post('campaign_first', { campaign: 'summer' }));
    expect(got.slice(0, 3)).toEqual([1002, 1150, 1100]);
    expect(got).toEqual(expected.campaignFirst('summer'));
    expect(ids(await post('campaign_first', { campaign: 'none' }))).toEqual(expected.campaignFirst('none'));
  });

  it('personalised, with trending as the fallback when the personal run has fewer than 3 items', async () => {
    for (const c of [1, 2, 5]) expect(ids(await post('for_you', { client_id: c }))).toEqual(expected.forYou(c));
    const res = await fetch(`${srv.url}/pipelines/for_you?client_id=9`);
    const body = (await res.json()) as { items: Row[]; pipeline: string; fallback?: object };
    expect(res.status).toBe(200);
    expect(ids(body.items)).toEqual(rankedTrending().slice(0, 10));
    expect(body.pipeline).toBe('trending_now');
    expect(body.fallback).toEqual({ from: 'for_you', cause: 'empty', reason: expect.stringContaining('answered 0 items, fewer than min_items 3') });
  });

  it('personalised first, trending as the fill, and trending alone when nothing is personal', async () => {
    for (const c of [1, 2, 5]) expect(ids(await post('for_you_mixed', { client_id: c }))).toEqual(expected.forYouMixed(c));
    expect(ids(await post('for_you_mixed', { client_id: 9 }))).toEqual(rankedTrending().slice(0, 10));
  });

  it('pages a ranking with Offset then Limit', async () => {
    expect(ids(await post('trending_page', {}))).toEqual(expected.page(0, 10));
    expect(ids(await post('trending_page', { offset: 10 }))).toEqual(expected.page(10, 10));
    const q = await (await fetch(`${srv.url}/pipelines/trending_page?offset=10&size=10`)).json() as { items: Row[] };
    expect(ids(q.items)).toEqual(rankedTrending().slice(10, 20));
    expect(ids(await post('trending_page', { offset: 100000 }))).toEqual([]);
  });

  it('more from this brand: weighted score, in stock, price band, not the product itself', async () => {
    for (const pid of [1001, 1050, 1200]) {
      const got = await post('more_from_brand', { product_id: pid });
      const want = expected.moreFromBrand(pid);
      expect(ids(got)).toEqual(want.map(([id]) => id));
      got.forEach((r, k) => expect(r['score']).toBeCloseTo(want[k]![1], 9));
    }
  });

  it('new arrivals this fortnight (launched since midnight 14 days back), by price ascending', async () => {
    const got = await post('new_arrivals', {});
    expect(got.length).toBeGreaterThan(3);
    expect(ids(got)).toEqual(expected.newArrivals());
    const first = byId.get(got[0]!.product_id)!;
    expect(got[0]).toEqual({ product_id: first.product_id, price: first.price, launched_on: `${first.launched_on}T00:00:00Z` });
  });

  it('trending minus what the client bought in the last 30 days (not what they bought before)', async () => {
    for (const c of [1, 2, 3, 4, 5, 6, 7, 8]) expect(ids(await post('trending_not_bought_lately', { client_id: c })), `client ${c}`).toEqual(expected.notBoughtLately(c));
    // The window matters: some client bought a top-10 trending item only before it.
    const ever = (c: number): Set<number> => new Set(purchases.filter((x) => x.client_id === c).map((x) => x.product_id));
    expect([1, 2, 3, 4, 5, 6, 7, 8].some((c) => expected.notBoughtLately(c).some((id) => ever(c).has(id)))).toBe(true);
  });
});
