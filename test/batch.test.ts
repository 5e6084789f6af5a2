/**
 * Batches (POST /pipelines/{name}/batch) on a real server over the standard workload: each entry is
 * the answer the same request gets alone, bad elements fail alone with their index, one version for
 * the whole batch through a reload, the size, body and deadline limits, single requests still served
 * during a big batch, and the metrics counting elements as requests and the batch as a batch.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { BENCH, benchOrSkip, ROOT, server, tempDir } from './helpers.js';

const BENCH_DIR = join(ROOT, 'loadtest/bench-configs');
const JSON_CT = { 'content-type': 'application/json' };
type Json = Record<string, unknown>;

/** Seeded clients and products of the standard workload (a small LCG: the same list every run). */
function seeded(n: number, seed = 7): Json[] {
  let s = seed;
  const next = (m: number): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s % m) + 1;
  };
  return Array.from({ length: n }, () => ({ client_id: next(20_000), product_id: next(10_000) }));
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const r = await fetch(url, { method: 'POST', headers: { ...JSON_CT, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, headers: r.headers, body: (await r.json()) as Json };
}

/** The value of one series in the Prometheus text (0 when absent). */
function series(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

const run = benchOrSkip();

describe.runIf(run)('batch requests on the standard workload', () => {
  let dir: string;
  let srv: RunningServer;
  const batchUrl = (): string => `${srv.url}/pipelines/complimentary_items/batch`;
  const singleUrl = (): string => `${srv.url}/pipelines/complimentary_items`;

  beforeAll(async () => {
    // A copy of the bench configs (the reload test edits it), its data paths made absolute.
    dir = await tempDir('airmail-batch-');
    const shared = (await readFile(join(BENCH_DIR, 'bench.yaml'), 'utf8')).replaceAll('../../../shared/bench', BENCH);
    await writeFile(join(dir, 'bench.yaml'), shared);
    await writeFile(join(dir, 'complimentary_items.yaml'), await readFile(join(BENCH_DIR, 'complimentary_items.yaml'), 'utf8'));
    srv = await server({ configs: dir, threads: 2, watch: true, reloadSettleMs: 50 });
    expect(srv.startErrors).toEqual([]);
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers each of 200 seeded requests as the same request sent alone', async () => {
    const requests = seeded(200);
    const batch = await post(batchUrl(), { requests });
    expect(batch.status).toBe(200);
    const results = batch.body['results'] as Json[];
    expect(results).toHaveLength(200);
    expect(batch.body['failed']).toBe(0);
    const version = batch.body['version'];
    for (let i = 0; i < requests.length; i++) {
      const single = await post(singleUrl(), requests[i]);
      expect(single.status, JSON.stringify(requests[i])).toBe(200);
      expect(single.body['version']).toBe(version);
      const r = results[i]!;
      expect(r['index']).toBe(i);
      expect(r['status']).toBe(200);
      expect({ items: r['items'], error: r['error'], reason: r['reason'] }, JSON.stringify(requests[i])).toEqual({ items: single.body['items'], error: single.body['error'], reason: single.body['reason'] });
      // Named once, for the whole batch.
      expect(r).not.toHaveProperty('pipeline');
      expect(r).not.toHaveProperty('version');
    }
  }, 120_000);

  it('fails bad elements alone, each with its index and the error the single request gets; a batch of only bad ones is still 200', async () => {
    const requests: unknown[] = [{ client_id: 17, product_id: 1200 }, { client_id: 'x' }, [1], { client_id: 18, product_id: 1300, extra: 1 }, null, { client_id: 19, product_id: 1400 }];
    const batch = await post(batchUrl(), { requests });
    expect(batch.status).toBe(200);
    const results = batch.body['results'] as Json[];
    expect(results.map((r) => [r['index'], r['status'], r['code'] ?? null])).toEqual([
      [0, 200, null], [1, 422, 'INPUT_INVALID'], [2, 422, 'INPUT_INVALID'], [3, 422, 'INPUT_INVALID'], [4, 422, 'INPUT_INVALID'], [5, 200, null],
    ]);
    expect(batch.body['failed']).toBe(4);
    for (const i of [1, 3]) {
      const single = await post(singleUrl(), requests[i]);
      expect(single.status).toBe(422);
      for (const k of ['items', 'error', 'reason', 'code', 'errors']) expect(results[i]![k], `${i} ${k}`).toEqual(single.body[k]);
    }
    expect(results[2]!['reason']).toBe('each element of requests must be a JSON object of inputs');
    const allBad = await post(batchUrl(), { requests: [{}, { client_id: -1 }] });
    expect(allBad.status).toBe(200);
    expect(allBad.body['failed']).toBe(2);
  }, 60_000);

  it('refuses a body that is no {"requests": [...]} and a debug request, as a whole', async () => {
    for (const body of [[{ client_id: 1 }], { requests: { client_id: 1 } }, { requests: [], extra: 1 }, {}]) {
      const r = await post(batchUrl(), body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body['code']).toBe('INPUT_INVALID');
      expect(r.body['pipeline']).toBe('complimentary_items');
    }
    const debug = await post(`${batchUrl()}?debug=true`, { requests: [] });
    expect(debug.status).toBe(400);
    expect(debug.body['reason']).toMatch(/debug is per request/);
    expect((await post(`${srv.url}/pipelines/nope/batch`, { requests: [] })).status).toBe(404);
    const empty = await post(batchUrl(), { requests: [] });
    expect(empty.status).toBe(200);
    expect(empty.body['results']).toEqual([]);
  });

  it('answers elements not started within the batch deadline with 504 entries, the others as usual', async () => {
    const requests = seeded(400, 99);
    const r = await post(batchUrl(), { requests }, { 'x-airmail-deadline-ms': '40' });
    expect(r.status).toBe(200);
    const results = r.body['results'] as Json[];
    expect(results).toHaveLength(400);
    const late = results.filter((x) => x['status'] === 504);
    expect(late.length).toBeGreaterThan(0);
    expect(results.every((x) => x['status'] === 200 || x['status'] === 504)).toBe(true);
    expect(late.some((x) => /the batch's deadline \(40 ms for its 400 requests\) passed before this element ran/.test(String(x['reason'])))).toBe(true);
    expect(late.every((x) => x['code'] === 'DEADLINE_EXCEEDED')).toBe(true);
  }, 60_000);

  it('keeps serving single requests during a big batch (the batch holds one element per worker, not the queue)', async () => {
    const requests = seeded(600, 3);
    let done = false;
    const batch = post(batchUrl(), { requests }).finally(() => {
      done = true;
    });
    let served = 0;
    const statuses = new Set<number>();
    for (let i = 0; !done; i++) {
      const r = await post(singleUrl(), { client_id: (i % 50) + 1, product_id: 77 });
      statuses.add(r.status);
      if (!done) served++;
    }
    const b = await batch;
    expect(b.status).toBe(200);
    expect(b.body['failed']).toBe(0);
    expect([...statuses]).toEqual([200]);
    // Behind a whole 600-element queue a single request would wait for the batch to end: 0 or 1 served.
    expect(served).toBeGreaterThanOrEqual(10);
  }, 120_000);

  it('counts each element in airmail_requests_total and the batch in the batch series', async () => {
    const before = await (await fetch(`${srv.url}/metrics`)).text();
    const requests: unknown[] = [...seeded(8, 11), { client_id: 'bad' }, [2]];
    const r = await post(batchUrl(), { requests });
    expect(r.status).toBe(200);
    const tooBig = await post(`${srv.url}/pipelines/complimentary_items/batch`, { requests: Array.from({ length: 1001 }, () => ({})) });
    expect(tooBig.status).toBe(413);
    const after = await (await fetch(`${srv.url}/metrics`)).text();
    const delta = (name: string, labels: string): number => series(after, name, labels) - series(before, name, labels);
    expect(delta('airmail_requests_total', 'pipeline="complimentary_items",status="200"')).toBe(8);
    expect(delta('airmail_requests_total', 'pipeline="complimentary_items",status="422"')).toBe(2);
    expect(delta('airmail_batch_requests_total', 'pipeline="complimentary_items",status="200"')).toBe(1);
    expect(delta('airmail_batch_requests_total', 'pipeline="complimentary_items",status="413"')).toBe(1);
    expect(delta('airmail_batch_size_count', 'pipeline="complimentary_items"')).toBe(1);
    expect(delta('airmail_batch_size_sum', 'pipeline="complimentary_items"')).toBe(10);
  }, 60_000);

  // Last: it changes the pipeline.
  it('runs one version for the whole batch when the pipeline is reloaded during it', async () => {
    const old = (await (await fetch(`${srv.url}/pipelines/complimentary_items`)).json()) as Json;
    const requests = seeded(1000, 5);
    let batchDone = 0;
    const batch = post(batchUrl(), { requests }).then((r) => {
      batchDone = performance.now();
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    const file = join(dir, 'complimentary_items.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('n: 10,', 'n: 9,'));
    let reloadedAt = 0;
    for (let i = 0; i < 200 && !reloadedAt; i++) {
      const now = (await (await fetch(`${srv.url}/pipelines/complimentary_items`)).json()) as Json;
      if (now['version'] !== old['version']) reloadedAt = performance.now();
      else await new Promise((r) => setTimeout(r, 20));
    }
    const b = await batch;
    expect(reloadedAt).toBeGreaterThan(0);
    // The reload was applied while the batch ran, and none of its elements ran the new version (9 items).
    expect(reloadedAt).toBeLessThan(batchDone);
    expect(b.body['version']).toBe(old['version']);
    const results = b.body['results'] as Json[];
    // 10 items (or none: a product the catalog lacks), never the new version's 9.
    expect(results.filter((x) => !(x['status'] === 200 && [0, 10].includes((x['items'] as unknown[]).length))).slice(0, 2)).toEqual([]);
    expect(results.filter((x) => (x['items'] as unknown[]).length === 10).length).toBeGreaterThan(700);
    const next = await post(batchUrl(), { requests: requests.slice(0, 3) });
    expect(next.body['version']).not.toBe(old['version']);
    expect((next.body['results'] as Json[]).map((x) => (x['items'] as unknown[]).length)).toContain(9);
  }, 120_000);
});

describe('batch limits', () => {
  let dir: string;
  let srv: RunningServer;
  beforeAll(async () => {
    dir = await tempDir('airmail-batch-limits-');
    await writeFile(join(dir, 'tiny.yaml'), 'pipeline:\n  name: tiny\n  item_type: item_id\n  initialization:\n    includes:\n    - name: Static\n      parameters: {items: [{item_id: 1, w: 0.5}, {item_id: 2, w: 0.7}]}\n  operations:\n  - {name: Limit, parameters: {n: $n}}\n  return: [item_id, w]\n');
    srv = await server({ configs: dir, threads: 1, watch: false, maxBatch: 3, bodyLimit: 2048 });
    expect(srv.startErrors).toEqual([]);
  });
  afterAll(async () => {
    await srv?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses more requests than --max-batch with 413 BATCH_TOO_LARGE, and a body over the limit with 413 BODY_TOO_LARGE', async () => {
    const ok = await post(`${srv.url}/pipelines/tiny/batch`, { requests: [{ n: 1 }, { n: 2 }, { n: 1 }] });
    expect(ok.status).toBe(200);
    expect((ok.body['results'] as Json[]).map((r) => (r['items'] as unknown[]).length)).toEqual([1, 2, 1]);
    const many = await post(`${srv.url}/pipelines/tiny/batch`, { requests: [{ n: 1 }, { n: 1 }, { n: 1 }, { n: 1 }] });
    expect(many.status).toBe(413);
    expect(many.body['code']).toBe('BATCH_TOO_LARGE');
    expect(many.body['reason']).toBe('the batch holds 4 requests; at most 3 are taken in one (--max-batch): split it');
    const big = await post(`${srv.url}/pipelines/tiny/batch`, { requests: [{ n: 1, pad: 'x'.repeat(3000) }] });
    expect(big.status).toBe(413);
    expect(big.body['code']).toBe('BODY_TOO_LARGE');
  });

  it('lists the route in /openapi.json with its body and the batch size limit', async () => {
    const doc = (await (await fetch(`${srv.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, Json>> };
    const op = doc.paths['/pipelines/tiny/batch']?.['post'] as { requestBody: { content: Record<string, { schema: { $ref: string } }> } } | undefined;
    expect(op).toBeDefined();
    // The body is a component, referred to from each media type.
    const ref = op!.requestBody.content['application/json']!.schema.$ref;
    expect(ref).toBe('#/components/schemas/batch.tiny');
    const schemas = (doc as unknown as { components: { schemas: Record<string, { properties: { requests: { maxItems: number } } }> } }).components.schemas;
    expect(schemas['batch.tiny']!.properties.requests.maxItems).toBe(3);
  });
});
