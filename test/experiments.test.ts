/**
 * A/B experiments (README "A/B experiments"): a real server on a configs folder of its own, with two
 * arm pipelines and an experiment between them. The assignment is sticky, splits 10,000 seeded ids
 * within tolerance, and is the README's formula (recomputed here from its text); ?arm= and
 * x-airmail-arm force an arm and are counted apart; a request without the unit is a 422 naming it
 * (or runs the default arm); debug and why go through it; the refusals at load have their sentences;
 * an edit of the weights applies at once and moves only the units between the old and new boundary;
 * a reload removing an arm is refused naming both, the last good set serving on.
 */
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { configStores, server, tempDir } from './helpers.js';

const ITEMS = [{ sku_id: 1, cat: 'a', pop: 0.1 }, { sku_id: 2, cat: 'a', pop: 0.9 }, { sku_id: 3, cat: 'b', pop: 0.5 }];
const PIPELINES = `
datasets:
  items: {path: items.json, key: sku_id}
pipelines:
- name: feed_v1
  item_type: sku_id
  inputs: {client_id: {type: integer}, cat: {type: string, default: a}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {cat: $cat}}}]
  operations: [{name: Limit, parameters: {n: 1}}]
- name: feed_v2
  item_type: sku_id
  inputs: {client_id: {type: integer}, cat: {type: string, default: a}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {cat: $cat}}}]
    scores: [{name: Column, parameters: {column: pop}}]
  operations: [{name: Sort, parameters: {by: score, desc: true}}]
- name: feed_open
  item_type: sku_id
  inputs: {client_id: {type: integer, default: 0}, cat: {type: string, default: a}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {cat: $cat}}}]
`;
const experiment = (w1: number, w2: number): string => `
experiments:
- name: home_feed
  unit: $client_id
  arms:
  - {pipeline: feed_v1, weight: ${w1}}
  - {pipeline: feed_v2, weight: ${w2}}
- name: open_feed
  unit: $client_id
  default: feed_open
  arms:
  - {pipeline: feed_open, weight: 1}
  - {pipeline: feed_v2, weight: 1}
`;

/** The README's formula, as a data scientist would write it from the text. */
function readmeBucket(salt: string, unit: string | number): number {
  return parseInt(createHash('sha256').update(`${salt}:${unit}`).digest('hex').slice(0, 8), 16) % 10000;
}

/** Seeded ids (mulberry32), so the split is the same on every run. */
function seededIds(n: number, seed: number): number[] {
  let a = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out.push(((t ^ (t >>> 14)) >>> 0) % 1_000_000_000);
  }
  return out;
}

let srv: RunningServer;
let dir: string;

async function call(path: string, init: { method?: 'GET' | 'POST'; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${srv.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...init.headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text) as Record<string, unknown> };
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() - t0 > ms) throw new Error(`not met within ${ms} ms: ${JSON.stringify(v).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const armOf = (r: { json: Record<string, unknown> }): string => (r.json['experiment'] as { arm: string }).arm;

beforeAll(async () => {
  dir = await tempDir('airmail-experiments-');
  await writeFile(join(dir, 'items.json'), JSON.stringify(ITEMS));
  await writeFile(join(dir, 'feeds.yaml'), PIPELINES);
  await writeFile(join(dir, 'experiment.yaml'), experiment(90, 10));
  srv = await server({ configs: dir, reloadSettleMs: 50 });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('A/B experiments', () => {
  it('splits 10,000 seeded ids 90/10 within tolerance, by the README formula, and stickily', async () => {
    const ids = seededIds(10_000, 42);
    const arms = new Map<number, string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const r = await call(`/pipelines/home_feed?client_id=${id}`);
        expect(r.status).toBe(200);
        const x = r.json['experiment'] as { name: string; arm: string; assignment: string; bucket: number };
        expect(x.name).toBe('home_feed');
        expect(x.assignment).toBe('assigned');
        expect(r.json['pipeline']).toBe(x.arm);
        const b = readmeBucket('home_feed', id);
        expect(x.bucket).toBe(b);
        expect(x.arm).toBe(b < 9000 ? 'feed_v1' : 'feed_v2');
        arms.set(id, x.arm);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const v2 = [...arms.values()].filter((a) => a === 'feed_v2').length / arms.size;
    // 10,000 draws at p = 0.1: sd 0.003; 4 sd.
    expect(Math.abs(v2 - 0.1)).toBeLessThan(0.012);
    // Sticky: the same ids again (POST this time) land in the same arms.
    for (const id of ids.slice(0, 200)) {
      const r = await call('/pipelines/home_feed', { method: 'POST', body: { client_id: id } });
      expect(armOf(r)).toBe(arms.get(id));
    }
  }, 120_000);

  it('the README one-liner: string units hash as themselves, numbers by their digits', async () => {
    const r = await call('/pipelines/home_feed?client_id=17');
    expect((r.json['experiment'] as { bucket: number }).bucket).toBe(readmeBucket('home_feed', '17'));
    const readme = await readFile(join(__dirname, '..', 'README.md'), 'utf8');
    expect(readme).toContain('bucket = int(sha256(utf8(salt + ":" + unit)).hexdigest()[:8], 16) % 10000');
  });

  it('?arm= and x-airmail-arm force an arm, counted as forced; a value that is no arm is a 400 listing them', async () => {
    const id = seededIds(1, 7)[0]!;
    const natural = armOf(await call(`/pipelines/home_feed?client_id=${id}`));
    const other = natural === 'feed_v1' ? 'feed_v2' : 'feed_v1';
    const byQuery = await call(`/pipelines/home_feed?client_id=${id}&arm=${other}`);
    expect(byQuery.status).toBe(200);
    expect(byQuery.json['experiment']).toMatchObject({ arm: other, assignment: 'forced' });
    expect(byQuery.json['pipeline']).toBe(other);
    const byHeader = await call('/pipelines/home_feed', { method: 'POST', body: { client_id: id }, headers: { 'x-airmail-arm': other } });
    expect(byHeader.json['experiment']).toMatchObject({ arm: other, assignment: 'forced' });
    const noUnit = await call(`/pipelines/home_feed?arm=feed_v2&cat=b`);
    expect(noUnit.status).toBe(422); // feed_v2 itself requires client_id
    const bad = await call(`/pipelines/home_feed?client_id=1&arm=feed_v9`);
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 'QUERY_INVALID' });
    expect(bad.json['reason']).toContain('feed_v1, feed_v2');
    const badHeader = await call('/pipelines/home_feed?client_id=1', { headers: { 'x-airmail-arm': 'nope' } });
    expect(badHeader).toMatchObject({ status: 400, json: { code: 'HEADER_INVALID' } });
    const metrics = await (await request(`${srv.url}/metrics`)).body.text();
    expect(metrics).toMatch(new RegExp(`airmail_experiment_requests_total\\{experiment="home_feed",arm="${other}",assignment="forced",status="200"\\} 2`));
  });

  it('a request without the unit is a 422 naming it, or runs the default arm', async () => {
    const r = await call('/pipelines/home_feed', { method: 'POST', body: { cat: 'b' } });
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ code: 'INPUT_INVALID', pipeline: 'home_feed' });
    expect(r.json['errors']).toEqual([{ path: '/client_id', message: "is required: experiment 'home_feed' picks its arm by it (its unit)" }]);
    const nullUnit = await call('/pipelines/home_feed', { method: 'POST', body: { client_id: null } });
    expect(nullUnit.status).toBe(422);
    const d = await call('/pipelines/open_feed?cat=b');
    expect(d.status).toBe(200);
    expect(d.json['experiment']).toEqual({ name: 'open_feed', arm: 'feed_open', assignment: 'default' });
    expect(d.json['items']).toEqual([{ sku_id: 3 }]);
    // An input no arm takes, or a bad value, is refused whatever the arm.
    const unknown = await call('/pipelines/home_feed?client_id=1&colour=red');
    expect(unknown.status).toBe(422);
    const typed = await call('/pipelines/home_feed?client_id=abc');
    expect(typed.status).toBe(422);
    expect(typed.json['reason']).toContain("inputs of experiment 'home_feed'");
  });

  it('debug, why, explain and GET /pipelines go through the experiment', async () => {
    const id = seededIds(3, 9).find((x) => readmeBucket('home_feed', x) < 9000)!;
    const dbg = await call(`/pipelines/home_feed?client_id=${id}&debug=true`);
    expect(dbg.json['pipeline']).toBe('feed_v1');
    expect((dbg.json['debug'] as { steps: unknown[] }).steps.length).toBeGreaterThan(0);
    const why = await call('/pipelines/home_feed/why', { method: 'POST', body: { inputs: { client_id: id }, item: 2 } });
    expect(why.status).toBe(200);
    expect(why.json).toMatchObject({ pipeline: 'feed_v1', experiment: { name: 'home_feed', arm: 'feed_v1' }, why: { verdict: 'cut' } });
    const forcedWhy = await call('/pipelines/home_feed/why?arm=feed_v2', { method: 'POST', body: { inputs: { client_id: id }, item: 2 } });
    expect(forcedWhy.json).toMatchObject({ pipeline: 'feed_v2', why: { verdict: 'kept' } });
    const described = await call('/pipelines/home_feed');
    expect(described.json).toMatchObject({ kind: 'experiment', unit: 'client_id', salt: 'home_feed', arms: [{ pipeline: 'feed_v1', weight: 90, share: 0.9, buckets: [0, 9000] }, { pipeline: 'feed_v2', weight: 10, share: 0.1, buckets: [9000, 10000] }] });
    const list = await call('/pipelines');
    expect((list.json['experiments'] as { name: string }[]).map((x) => x.name)).toEqual(['home_feed', 'open_feed']);
    const plan = await call('/pipelines/home_feed/explain');
    expect(Object.keys(plan.json['arms'] as object)).toEqual(['feed_v1', 'feed_v2']);
  });

  it('counts requests by experiment and arm in /metrics, and each arm under its own pipeline too', async () => {
    const text = await (await request(`${srv.url}/metrics`)).body.text();
    const count = (arm: string): number => Number(new RegExp(`airmail_experiment_requests_total\\{experiment="home_feed",arm="${arm}",assignment="assigned",status="200"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect(count('feed_v1') + count('feed_v2')).toBeGreaterThanOrEqual(10_200);
    expect(count('feed_v2') / (count('feed_v1') + count('feed_v2'))).toBeGreaterThan(0.08);
    expect(text).toMatch(/airmail_experiment_requests_total\{experiment="home_feed",arm="",assignment="none",status="422"\} \d+/);
    expect(text).toMatch(/airmail_experiment_request_duration_seconds_count\{experiment="home_feed",arm="feed_v2",assignment="assigned"\} \d+/);
    expect(text).toMatch(/airmail_requests_total\{pipeline="feed_v2",status="200"\} \d+/);
  });

  it('counts each arm\'s empty answers (200 with no items) apart, so the arms compare on empties too', async () => {
    const empties = async (arm: string): Promise<number> => {
      const text = await (await request(`${srv.url}/metrics`)).body.text();
      return Number(new RegExp(`airmail_experiment_empty_answers_total\\{experiment="home_feed",arm="${arm}",assignment="forced"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    const before = await empties('feed_v2');
    expect((await call('/pipelines/home_feed?client_id=1&cat=none&arm=feed_v2')).json['items']).toEqual([]);
    expect((await call('/pipelines/home_feed?client_id=1&cat=none&arm=feed_v2')).json['items']).toEqual([]);
    expect(((await call('/pipelines/home_feed?client_id=1&cat=a&arm=feed_v2')).json['items'] as unknown[]).length).toBe(2);
    expect(await empties('feed_v2')).toBe(before + 2);
  });

  it('an edit of the weights applies at once and moves only the units between the boundaries', async () => {
    const ids = seededIds(400, 5);
    const before = new Map(ids.map((id) => [id, readmeBucket('home_feed', id) < 9000 ? 'feed_v1' : 'feed_v2']));
    await writeFile(join(dir, 'experiment.yaml'), experiment(80, 20));
    await until(() => call('/pipelines/home_feed'), (r) => (r.json['arms'] as { buckets: number[] }[])[0]!.buckets[1] === 8000);
    for (const id of ids) {
      const b = readmeBucket('home_feed', id);
      const now = armOf(await call(`/pipelines/home_feed?client_id=${id}`));
      expect(now).toBe(b < 8000 ? 'feed_v1' : 'feed_v2');
      // Moved only when in [8000, 9000); v2's clients stay in v2.
      if (now !== before.get(id)) expect(b >= 8000 && b < 9000).toBe(true);
    }
  });

  it('a reload removing an arm is refused naming both; the last good set keeps serving', async () => {
    await writeFile(join(dir, 'feeds.yaml'), PIPELINES.replace('- name: feed_v2', '- name: feed_v3'));
    const list = await until(() => call('/pipelines'), (r) => (r.json['rejections'] as unknown[]).length > 0);
    expect(JSON.stringify(list.json['rejections'])).toContain("experiment 'home_feed': arm 'feed_v2' is no pipeline of the configs");
    const still = await call('/pipelines/home_feed?client_id=1&arm=feed_v2');
    expect(still).toMatchObject({ status: 200, json: { pipeline: 'feed_v2' } });
    await writeFile(join(dir, 'feeds.yaml'), PIPELINES);
    await until(() => call('/pipelines'), (r) => (r.json['rejections'] as unknown[]).length === 0);
  });
});

describe('experiments checked at load', () => {
  const open = configStores();
  const refusals = async (exp: string, pipelines = PIPELINES): Promise<string[]> => {
    const d = await tempDir('airmail-experiments-bad-');
    await writeFile(join(d, 'items.json'), JSON.stringify(ITEMS));
    await writeFile(join(d, 'feeds.yaml'), pipelines);
    await writeFile(join(d, 'experiment.yaml'), exp);
    const diags = await open(d).start();
    await rm(d, { recursive: true, force: true });
    return diags.map((x) => `${x.line}:${x.code}: ${x.message}`);
  };

  it('each mistake is a sentence at its line', async () => {
    const got = await refusals(`
experiments:
- name: feed_v1
  unit: client_id
  arms:
  - {pipeline: feed_v2, weight: 0}
  - {pipeline: feed_v9, weight: 1}
- name: empty
  unit: $client_id
  arms: []
- name: twice
  unit: $client_id
  default: feed_v1
  arms:
  - {pipeline: feed_v1, weight: 1}
  - {pipeline: feed_v1, weight: 2}
- name: tiny
  unit: $client_id
  arms:
  - {pipeline: feed_v2, weight: 1}
  - {pipeline: feed_v1, weight: 100000}
- name: nested
  unit: $client_id
  arms:
  - {pipeline: tiny, weight: 1}
`);
    expect(got).toEqual([
      "3:DUPLICATE_NAME: experiment 'feed_v1': pipeline 'feed_v1' in " + got[0]!.split(' in ')[1]!.split(' has')[0] + " has the same name; both would be served at /pipelines/feed_v1: rename the pipeline or the experiment",
      "4:CONFIG_INVALID: experiment 'feed_v1': unit must be a request input written $name (such as $client_id), not \"client_id\"",
      "6:CONFIG_INVALID: experiment 'feed_v1': arm 'feed_v2': weight must be a positive number (shares are weight / sum of weights), not 0; to stop an arm, remove it",
      "7:CONFIG_INVALID: experiment 'feed_v1': arm 'feed_v9' is no pipeline of the configs (did you mean 'feed_v1'?) (pipelines: feed_open, feed_v1, feed_v2); an arm removed or renamed must be taken out of the experiment too",
      "10:CONFIG_INVALID: experiment 'empty': it needs at least one arm ({pipeline: NAME, weight: N})",
      "16:CONFIG_INVALID: experiment 'twice': arm 'feed_v1' is listed twice; give it one weight",
      "13:CONFIG_INVALID: experiment 'twice': default arm 'feed_v1' requires input 'client_id', so a request without it would be refused anyway; give 'client_id' a default in that pipeline (inputs: {client_id: {default: ...}}) or drop default:",
      "20:CONFIG_INVALID: experiment 'tiny': arm 'feed_v2': weight 1 gives it no bucket of 10000 (a share under 1/10000); raise it or remove the arm",
      "25:CONFIG_INVALID: experiment 'nested': arm 'tiny' is an experiment; an arm is a pipeline (experiments do not nest)",
    ]);
  });

  it('the unit every arm takes, one item type, inputs declared alike, a default that does not need the unit', async () => {
    const other = `${PIPELINES}
- name: by_cat
  item_type: cat
  initialization:
    includes: [{name: Static, parameters: {items: [$cat]}}]
- name: typed_other
  item_type: sku_id
  inputs: {client_id: {type: string}}
  initialization:
    includes: [{name: Static, parameters: {items: [1]}}]
`;
    const got = await refusals(`
experiments:
- name: a
  unit: $client_id
  arms:
  - {pipeline: feed_v1, weight: 1}
  - {pipeline: by_cat, weight: 1}
- name: b
  unit: $client_id
  default: feed_v1
  arms:
  - {pipeline: feed_v1, weight: 1}
  - {pipeline: typed_other, weight: 1}
`, other);
    expect(got.join('\n')).toContain("experiment 'a': arm 'by_cat' takes no input 'client_id' (its inputs: cat); the unit must be an input every arm uses");
    expect(got.join('\n')).toContain("experiment 'a': arm 'by_cat' answers item_type cat, arm 'feed_v1' answers sku_id; the arms of an experiment must answer the same item type");
    expect(got.join('\n')).toContain("experiment 'b': default arm 'feed_v1' requires input 'client_id'");
    expect(got.join('\n')).toContain("experiment 'b': input 'client_id' is a string in arm 'typed_other' but an integer in arm 'feed_v1'");
  });

  it('an input declared {type: integer} in both arms is alike, though one arm reads it in a Lookup where (which alone takes a list too)', async () => {
    // A product page test: similar items read product_id in a where; the popularity baseline only declares it.
    const both = `${PIPELINES}
- name: similar
  item_type: sku_id
  inputs: {client_id: {type: integer}, product_id: {type: integer}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {sku_id: $product_id}}}]
- name: popular
  item_type: sku_id
  inputs: {client_id: {type: integer}, product_id: {type: integer, default: 1}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {cat: a}}}]
`;
    expect(await refusals(`
experiments:
- name: pdp
  unit: $client_id
  arms:
  - {pipeline: popular, weight: 1}
  - {pipeline: similar, weight: 1}
`, both)).toEqual([]);
  });
});
