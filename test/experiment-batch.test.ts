/**
 * Batches sent to an A/B experiment (README "Batch requests" and "A/B experiments"): an email
 * campaign's CRM job batches its clients through the experiment, and each element gets its arm
 * exactly as the same request sent alone would (same bucket, same answer, its `experiment`), `?arm=`
 * forces one arm for the whole batch, a bad element fails alone as its single request does, and the
 * metrics count each element per arm as a single request is counted.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../engine/batch.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

type Json = Record<string, unknown>;
const CATS = ['tea', 'coffee', 'mugs'];
const PRODUCTS = Array.from({ length: 30 }, (_, i) => ({ sku: i + 1, category: CATS[i % 3], sales: (i * 37) % 101, margin: ((i * 53) % 97) / 97 }));
const arm = (name: string, column: string): string => `
- name: ${name}
  item_type: sku
  inputs: {customer: {type: integer}, category: {type: string, default: tea}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: products, where: {category: $category}}}]
    scorer: [{name: Column, parameters: {column: ${column}}}]
  operations:
  - {name: Sort, parameters: {by: score, desc: true}}
  - {name: Limit, parameters: {n: 3}}`;
const CONFIG = `
datasets:
  products: {path: products.json, key: sku}
pipelines:${arm('best_sellers', 'sales')}${arm('high_margin', 'margin')}
experiments:
- name: email_feed
  unit: $customer
  arms:
  - {pipeline: best_sellers, weight: 1}
  - {pipeline: high_margin, weight: 1}
`;

/** Seeded customers (mulberry32) with a category each: the same list every run. */
function seeded(n: number, seed: number): Json[] {
  let a = seed;
  return Array.from({ length: n }, (_, i) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return { customer: ((t ^ (t >>> 14)) >>> 0) % 1_000_000, category: CATS[i % 3] };
  });
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Json };
}

/** The value of one series in the Prometheus text (0 when absent). */
function series(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('a batch sent to an A/B experiment', () => {
  let dir: string;
  let srv: RunningServer;
  const batchUrl = (q = ''): string => `${srv.url}/pipelines/email_feed/batch${q}`;

  beforeAll(async () => {
    dir = await tempDir('airmail-experiment-batch-');
    await writeFile(join(dir, 'products.json'), JSON.stringify(PRODUCTS));
    await writeFile(join(dir, 'shop.yaml'), CONFIG);
    srv = await server({ configs: dir, reloadSettleMs: 50 });
    expect(srv.startErrors).toEqual([]);
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives each of 300 seeded customers the arm, bucket and answer of the same request sent alone', async () => {
    const requests = seeded(300, 11);
    const batch = await post(batchUrl(), { requests });
    expect(batch.status, JSON.stringify(batch.body).slice(0, 300)).toBe(200);
    expect(batch.body['failed']).toBe(0);
    expect(batch.body['pipeline']).toBe('email_feed');
    const results = batch.body['results'] as Json[];
    expect(results).toHaveLength(300);
    const arms = new Set<string>();
    for (const [i, r] of results.entries()) {
      const single = await post(`${srv.url}/pipelines/email_feed`, requests[i]);
      expect(single.status).toBe(200);
      expect(r['index']).toBe(i);
      expect(r['status']).toBe(200);
      for (const k of ['items', 'error', 'reason', 'pipeline', 'version', 'experiment']) expect(r[k], `${i} ${k}`).toEqual(single.body[k]);
      const x = r['experiment'] as { arm: string; assignment: string };
      expect(x.assignment).toBe('assigned');
      expect(r['pipeline']).toBe(x.arm);
      arms.add(x.arm);
    }
    expect([...arms].sort()).toEqual(['best_sellers', 'high_margin']);
  }, 60_000);

  it('fails a bad element alone, with the answer its single request gets', async () => {
    const requests: unknown[] = [{ customer: 5 }, { category: 'tea' }, { customer: 'x' }, [1], { customer: 6, arm: 'high_margin' }];
    const batch = await post(batchUrl(), { requests });
    expect(batch.status).toBe(200);
    const results = batch.body['results'] as Json[];
    expect(results.map((r) => [r['status'], r['code'] ?? null])).toEqual([[200, null], [422, 'INPUT_INVALID'], [422, 'INPUT_INVALID'], [422, 'INPUT_INVALID'], [422, 'INPUT_INVALID']]);
    expect(batch.body['failed']).toBe(4);
    for (const i of [1, 2, 4]) {
      const single = await post(`${srv.url}/pipelines/email_feed`, requests[i]);
      for (const k of ['status', 'reason', 'code', 'errors', 'pipeline']) expect(k === 'status' ? results[i]![k] : results[i]![k], `${i} ${k}`).toEqual(k === 'status' ? single.status : single.body[k]);
    }
    expect(results[1]!['reason']).toMatch(/customer is required: experiment 'email_feed' picks its arm by it/);
  });

  it('forces one arm for the whole batch with ?arm= or x-airmail-arm, and refuses an arm that is none, as a whole', async () => {
    const requests = seeded(40, 5);
    for (const [q, h] of [['?arm=high_margin', {}], ['', { 'x-airmail-arm': 'high_margin' }]] as const) {
      const batch = await post(batchUrl(q), { requests }, h);
      expect(batch.status).toBe(200);
      for (const [i, r] of (batch.body['results'] as Json[]).entries()) {
        expect(r['pipeline']).toBe('high_margin');
        const single = await post(`${srv.url}/pipelines/email_feed?arm=high_margin`, requests[i]);
        expect(r['experiment']).toEqual(single.body['experiment']);
        expect((r['experiment'] as Json)['assignment']).toBe('forced');
        expect(r['items']).toEqual(single.body['items']);
      }
    }
    const bad = await post(batchUrl('?arm=nope'), { requests });
    expect(bad.status).toBe(400);
    expect(bad.body['code']).toBe('QUERY_INVALID');
    expect(bad.body['reason']).toMatch(/must name an arm of experiment 'email_feed' \(best_sellers, high_margin\)/);
  });

  it('documents the experiment\'s batch in /openapi.json, with the options that force an arm', async () => {
    const doc = (await (await fetch(`${srv.url}/openapi.json`)).json()) as { paths: Record<string, { post?: { parameters: { name: string }[]; responses: Record<string, unknown> } }>; components: { schemas: Record<string, { properties: { results: { items: { properties: Record<string, unknown> } } } }> } };
    const op = doc.paths['/pipelines/email_feed/batch']?.post;
    expect(op).toBeDefined();
    expect(op!.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['arm', 'x-airmail-arm']));
    // The batch answers are defined once under components, not written out per pipeline.
    expect(op!.responses['200']).toEqual({ $ref: '#/components/responses/ExperimentBatch' });
    expect(doc.paths['/pipelines/best_sellers/batch']?.post?.responses['200']).toEqual({ $ref: '#/components/responses/Batch' });
    expect(Object.keys(doc.components.schemas['ExperimentBatchResult']!.properties.results.items.properties)).toEqual(expect.arrayContaining(['experiment', 'pipeline', 'version', 'status', 'index']));
  });

  it('counts each element per arm, as the same requests sent alone are counted, and the batch under the experiment', async () => {
    const metrics = async (): Promise<string> => (await fetch(`${srv.url}/metrics`)).text();
    const requests = [...seeded(60, 23), { category: 'tea' }];
    const before = await metrics();
    const batch = await post(batchUrl(), { requests });
    const after = await metrics();
    const results = batch.body['results'] as Json[];
    const per = (a: string): number => results.filter((r) => (r['experiment'] as Json | undefined)?.['arm'] === a).length;
    const grew = (name: string, labels: string): number => series(after, name, labels) - series(before, name, labels);
    for (const a of ['best_sellers', 'high_margin']) {
      expect(per(a)).toBeGreaterThan(0);
      expect(grew('airmail_experiment_requests_total', `experiment="email_feed",arm="${a}",assignment="assigned",status="200"`)).toBe(per(a));
      expect(grew('airmail_experiment_request_duration_seconds_count', `experiment="email_feed",arm="${a}",assignment="assigned"`)).toBe(per(a));
      expect(grew('airmail_requests_total', `pipeline="${a}",status="200"`)).toBe(per(a));
    }
    expect(grew('airmail_experiment_requests_total', 'experiment="email_feed",arm="",assignment="none",status="422"')).toBe(1);
    expect(grew('airmail_requests_total', 'pipeline="email_feed",status="422"')).toBe(1);
    expect(grew('airmail_batch_requests_total', 'pipeline="email_feed",status="200"')).toBe(1);
    expect(grew('airmail_batch_size_count', 'pipeline="email_feed"')).toBe(1);
  });

  // Last: it edits the configs.
  it('runs every element on the experiment and arms of the snapshot the batch started with, through a reload', async () => {
    const requests = seeded(120, 31);
    const snapshot = srv.engine.snapshot;
    const x = snapshot.experiments!.get('email_feed')!;
    const before = (await post(batchUrl(), { requests })).body['results'] as Json[];
    // New weights and arms answering 2 items instead of 3.
    await writeFile(join(dir, 'shop.yaml'), CONFIG.replace('weight: 1}\n', 'weight: 3}\n').replaceAll('n: 3', 'n: 2'));
    for (let i = 0; i < 200 && srv.engine.snapshot === snapshot; i++) await new Promise((r) => setTimeout(r, 25));
    expect(srv.engine.snapshot).not.toBe(snapshot);
    const outcomes = await runBatch(srv.engine, { target: { experiment: x }, snapshot, elements: requests, source: 'json', deadlineMs: 10_000 });
    for (const [i, o] of outcomes.entries()) {
      expect('ok' in o, String(i)).toBe(true);
      if (!('ok' in o)) continue;
      expect((o.ok as unknown as Json)['experiment'], String(i)).toEqual(before[i]!['experiment']);
      expect(o.ok.items, String(i)).toEqual(before[i]!['items']);
      expect(o.ok.version, String(i)).toEqual(before[i]!['version']);
    }
    const now = (await post(batchUrl(), { requests })).body['results'] as Json[];
    expect(now.every((r) => (r['items'] as unknown[]).length <= 2)).toBe(true);
    expect(now.filter((r) => (r['experiment'] as Json)['arm'] === 'best_sellers').length).toBeGreaterThan(before.filter((r) => (r['experiment'] as Json)['arm'] === 'best_sellers').length);
  });
});
