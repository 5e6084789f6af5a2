/**
 * Fallback pipelines (README "Fallback pipelines"): a pipeline whose upstream is down, that runs
 * past its deadline or answers fewer than min_items answers from its `fallback:` with a 200 and a
 * `fallback` field; the fallback's own failure leaves the original answer; the checks at load
 * (missing target, cycle, chain, item_type, inputs, returns) and on reload; the metric.
 * Real parts: a local HTTP upstream that is stopped, the worker pool, hot reload.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigSet } from '../engine/config/load.js';
import { Observability } from '../engine/observe/index.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { builtinOperators } from '../operators/index.js';
import { ROOT, server, tempDir, until } from './helpers.js';

interface Answer { items: { sku: number }[]; error: boolean; reason: string | null; pipeline: string; code?: string; fallback?: { from: string; cause: string; code?: string; operator?: string; reason: string }; debug?: { steps: { step: string }[]; fallback_from?: { pipeline: string; steps: { step: string; failed?: boolean }[] } } }

let upstream: Server;
let slow: Server;
let upPort = 0;
let slowPort = 0;
let dir: string;
let srv: RunningServer;
const metrics = new EngineMetrics();

const listen = async (s: Server): Promise<number> => { await new Promise<void>((r) => s.listen(0, '127.0.0.1', r)); return (s.address() as AddressInfo).port; };

const configs = (): string => `
operator_paths: [${JSON.stringify(join(ROOT, 'test/fixtures/operators'))}]
datasets:
  trending: {path: trending.json}
operators:
  UserRecs: {use: HttpSource, parameters: {url: "http://127.0.0.1:${upPort}/users/{u}", vars: {u: $user}, column: sku, timeout_ms: 500, retries: 0, ttl_ms: 1}}
  SlowRecs: {use: HttpSource, parameters: {url: "http://127.0.0.1:${slowPort}/users/{u}", vars: {u: $user}, column: sku, timeout_ms: 5000, retries: 0, ttl_ms: 1}}
  DeadRecs: {use: HttpSource, parameters: {url: "http://127.0.0.1:${upPort}/dead/{u}", vars: {u: $user}, column: sku, timeout_ms: 500, retries: 0, ttl_ms: 1}}
pipelines:
- {name: for_you, item_type: sku, initialization: {includes: [UserRecs]}, fallback: trending_now}
- {name: slow_for_you, item_type: sku, deadline_ms: 600, initialization: {includes: [SlowRecs]}, fallback: {pipeline: trending_now, when: [deadline], reserve_ms: 200}}
- {name: picks, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: trending}}]}, operations: [{name: Limit, parameters: {n: $n}}], fallback: {pipeline: trending_now, when: [empty], min_items: 3}}
- {name: both_down, item_type: sku, initialization: {includes: [UserRecs]}, fallback: dead_too}
- {name: dead_too, item_type: sku, inputs: {user: {default: 0}}, initialization: {includes: [DeadRecs]}}
- {name: throws, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: trending}}]}, operations: [{name: Fault, parameters: {mode: throw}}], fallback: trending_now}
- {name: trending_now, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: trending}}]}}
- {name: dead_then_slow, item_type: sku, deadline_ms: 1000, initialization: {includes: [DeadRecs]}, fallback: slow_trending}
- {name: slow_then_slow, item_type: sku, deadline_ms: 600, initialization: {includes: [SlowRecs]}, fallback: {pipeline: slow_trending, when: [deadline], reserve_ms: 200}}
- {name: slow_trending, item_type: sku, inputs: {user: {default: 0}}, initialization: {includes: [SlowRecs]}}
`;

const get = async (path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Answer }> => {
  const r = await fetch(`${srv.url}${path}`, { headers });
  return { status: r.status, body: (await r.json()) as Answer };
};

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.url?.startsWith('/dead/')) { res.writeHead(500); res.end('down'); return; }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify([{ sku: 101 }, { sku: 102 }]));
  });
  slow = createServer((_req, res) => { setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('[{"sku": 7}]'); }, 2000).unref(); });
  upPort = await listen(upstream);
  slowPort = await listen(slow);
  dir = await tempDir('airmail-fallback-');
  await writeFile(join(dir, 'trending.json'), JSON.stringify([{ sku: 1 }, { sku: 2 }, { sku: 3 }, { sku: 4 }]));
  await writeFile(join(dir, 'shop.yaml'), configs());
  srv = await server({ configs: dir, threads: 1, reloadSettleMs: 0, observe: new Observability({ metrics }) });
  expect(srv.startErrors).toEqual([]);
});

afterAll(async () => {
  await srv?.close();
  upstream?.closeAllConnections();
  slow?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
  await new Promise((r) => slow?.close(r));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('fallback pipelines at run time', () => {
  it('answers from the pipeline itself while its upstream is up, and from the fallback once it is stopped', async () => {
    const up = await get('/pipelines/for_you?user=1');
    expect(up.status).toBe(200);
    expect(up.body.pipeline).toBe('for_you');
    expect(up.body.fallback).toBeUndefined();
    expect(up.body.items.map((i) => i.sku)).toEqual([101, 102]);

    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    const down = await get('/pipelines/for_you?user=2&debug=true');
    expect(down.status).toBe(200);
    expect(down.body.error).toBe(false);
    expect(down.body.pipeline).toBe('trending_now');
    expect(down.body.items.map((i) => i.sku)).toEqual([1, 2, 3, 4]);
    expect(down.body.fallback).toMatchObject({ from: 'for_you', cause: 'error', code: 'SOURCE_FAILED', operator: 'UserRecs' });
    expect(down.body.fallback!.reason).toContain('UserRecs');
    // The debug trace shows both runs: the fallback's steps, and the failed run's under fallback_from.
    expect(down.body.debug!.steps.map((s) => s.step)).toEqual(['Lookup']);
    expect(down.body.debug!.fallback_from).toMatchObject({ pipeline: 'for_you', steps: [{ step: 'UserRecs', failed: true }] });
    // Counted for serving requests, not for ?debug ones (kept out of the serving series).
    expect(metrics.fallbacks.get(['for_you', 'trending_now', 'error', 'served'])).toBe(0);
    expect((await get('/pipelines/for_you?user=5')).body.pipeline).toBe('trending_now');
    expect(metrics.fallbacks.get(['for_you', 'trending_now', 'error', 'served'])).toBe(1);
  });

  it('an operator that throws (a 500 OPERATOR_FAILED without a fallback) answers from the fallback', async () => {
    const r = await get('/pipelines/throws/run');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ pipeline: 'trending_now', fallback: { from: 'throws', cause: 'error', code: 'OPERATOR_FAILED', operator: 'Fault' } });
    expect(r.body.fallback!.reason).toContain('the operator threw');
  });

  it('a fallback that fails too leaves the original answer (its error, its pipeline), counted as failed', async () => {
    const r = await get('/pipelines/both_down?user=3');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ error: true, code: 'SOURCE_FAILED', pipeline: 'both_down' });
    expect(r.body.reason).toContain('UserRecs');
    expect(r.body.fallback).toBeUndefined();
    expect(metrics.fallbacks.get(['both_down', 'dead_too', 'error', 'failed'])).toBe(1);
  });

  it('a fallback that is slow too leaves the original answer, with the took_ms the client waited (the fallback\'s try included)', async () => {
    await get('/pipelines/dead_then_slow?user=1000'); // a cold worker and connections: not what is measured
    const t0 = performance.now();
    const r = await get('/pipelines/dead_then_slow?user=1001'); // its own slow URL: no fetch of another request to join
    const waited = performance.now() - t0;
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ pipeline: 'dead_then_slow', error: true, code: 'SOURCE_FAILED', operator: 'DeadRecs' });
    expect(r.body.fallback).toBeUndefined();
    const took = (r.body as Answer & { took_ms: number }).took_ms;
    // The fallback ran until the deadline (1000 ms), so the answer came then, and took_ms says so.
    expect(waited).toBeGreaterThan(850);
    expect(took).toBeGreaterThan(850);
    expect(took).toBeLessThanOrEqual(waited + 1);
  });

  it('a run past its shortened deadline whose fallback fails too: the 504 says it was the run\'s deadline, less reserve_ms, and why the fallback failed', async () => {
    const r = await get('/pipelines/slow_then_slow?user=5');
    expect(r.status).toBe(504);
    expect(r.body.code).toBe('DEADLINE_EXCEEDED');
    expect(r.body.reason).toMatch(/^the run's deadline passed \(the request's, less reserve_ms 200 kept for its fallback\).*; its fallback 'slow_trending' did not answer either: (no time was left|the request's deadline passed)/);
  });

  it('GET /explain shows the fallback: target, when, min_items, reserve_ms', async () => {
    const ex = (await (await fetch(`${srv.url}/pipelines/slow_for_you/explain`)).json()) as Record<string, unknown>;
    expect(ex['fallback']).toEqual({ pipeline: 'trending_now', when: ['deadline'], min_items: 1, reserve_ms: 200 });
    expect(((await (await fetch(`${srv.url}/pipelines/trending_now/explain`)).json()) as Record<string, unknown>)['fallback']).toBeUndefined();
  });

  it('a run past its deadline answers from the fallback within the deadline, in the reserve kept for it', async () => {
    const t0 = Date.now();
    const r = await get('/pipelines/slow_for_you?user=4');
    const took = Date.now() - t0;
    expect(r.status).toBe(200);
    expect(r.body.pipeline).toBe('trending_now');
    expect(r.body.fallback).toMatchObject({ from: 'slow_for_you', cause: 'deadline', code: 'DEADLINE_EXCEEDED' });
    expect(r.body.fallback!.reason).toContain('SlowRecs');
    expect(took).toBeLessThan(1500);
    expect(metrics.fallbacks.get(['slow_for_you', 'trending_now', 'deadline', 'served'])).toBe(1);
  });

  it('fewer items than min_items answers from the fallback; enough items answer as they are', async () => {
    const few = await get('/pipelines/picks?n=2');
    expect(few.body.pipeline).toBe('trending_now');
    expect(few.body.fallback).toEqual({ from: 'picks', cause: 'empty', reason: 'answered 2 items, fewer than min_items 3' });
    const enough = await get('/pipelines/picks?n=3');
    expect(enough.body.pipeline).toBe('picks');
    expect(enough.body.items.map((i) => i.sku)).toEqual([1, 2, 3]);
    expect(enough.body.fallback).toBeUndefined();
    const scrape = await (await fetch(`${srv.url}/metrics`)).text();
    expect(scrape).toContain('airmail_fallbacks_total{pipeline="picks",fallback="trending_now",cause="empty",outcome="served"} 1');
  });

  it('the answer is as /openapi.json says (fallback and debug.fallback_from), and GET /pipelines/{name} shows the fallback', async () => {
    const doc = (await (await fetch(`${srv.url}/openapi.json`)).json()) as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
    const result = doc.components.schemas['Result']!;
    expect(Object.keys(result.properties)).toContain('fallback');
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(result as object);
    const r = await get('/pipelines/picks?n=1&debug=true');
    expect(r.body.fallback).toBeDefined();
    expect(validate(r.body), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...r.body, fallback: { from: 'picks', cause: 'bored', reason: 'x' } })).toBe(false);
    const described = (await (await fetch(`${srv.url}/pipelines/picks`)).json()) as { fallback: unknown };
    expect(described.fallback).toEqual({ pipeline: 'trending_now', when: ['empty'], min_items: 3, reserve_ms: 100 });
    expect(((await (await fetch(`${srv.url}/pipelines/trending_now`)).json()) as { fallback: unknown }).fallback).toBeNull();
  });

  it('a batch whose elements fall back or not: each entry as its single answer, the fallback\'s naming the pipeline and version that answered', async () => {
    const before = await (await fetch(`${srv.url}/metrics`)).text();
    const count = (scrape: string): number => Number(/airmail_fallbacks_total\{pipeline="picks",fallback="trending_now",cause="empty",outcome="served"\} (\d+)/.exec(scrape)?.[1] ?? 0);
    const r = await fetch(`${srv.url}/pipelines/picks/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: [{ n: 3 }, { n: 1 }, { n: 'x' }] }) });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { results: (Answer & { index: number; status: number; version?: string })[]; failed: number; pipeline: string; version: string };
    const single = (await get('/pipelines/picks?n=1')).body as Answer & { version: string };
    expect(body.pipeline).toBe('picks');
    expect(body.failed).toBe(1);
    const [own, fellBack, bad] = body.results;
    expect(own).not.toHaveProperty('pipeline');
    expect(own!.items.map((i) => i.sku)).toEqual([1, 2, 3]);
    expect(fellBack).toMatchObject({ index: 1, status: 200, pipeline: 'trending_now', version: single.version, fallback: { from: 'picks', cause: 'empty' } });
    expect(fellBack!.items).toEqual(single.items);
    expect(bad).toMatchObject({ index: 2, status: 422, code: 'INPUT_INVALID' });
    expect(bad).not.toHaveProperty('fallback');
    // The batch's answer is a component of the document, referred to: checked with the document's own references.
    const doc = (await (await fetch(`${srv.url}/openapi.json`)).json()) as { paths: Record<string, { post: { responses: { '200': unknown } } }> };
    expect(doc.paths['/pipelines/picks/batch']!.post.responses['200']).toEqual({ $ref: '#/components/responses/Batch' });
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(doc as object, 'openapi');
    const validate = ajv.compile({ $ref: 'openapi#/components/schemas/BatchResult' });
    expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
    const after = await (await fetch(`${srv.url}/metrics`)).text();
    expect(count(after) - count(before)).toBe(2); // the batch's element and the single request
  });

  it('bad inputs are the 422 they were, never a fallback', async () => {
    const r = await get('/pipelines/picks?n=x');
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('INPUT_INVALID');
  });

  it('POST /execute may name a loaded pipeline as its fallback, and is checked as at load', async () => {
    const send = async (pipeline: object): Promise<{ status: number; body: Answer & { errors?: { message: string }[] } }> => {
      const r = await fetch(`${srv.url}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pipeline, inputs: { n: 1 } }) });
      return { status: r.status, body: (await r.json()) as Answer };
    };
    const ok = await send({ name: 'adhoc', item_type: 'sku', initialization: { includes: [{ name: 'Lookup', parameters: { dataset: 'trending' } }] }, operations: [{ name: 'Limit', parameters: { n: '$n' } }], fallback: { pipeline: 'trending_now', min_items: 2 } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ pipeline: 'trending_now', fallback: { from: 'adhoc', cause: 'empty' } });
    const bad = await send({ name: 'adhoc2', item_type: 'sku', initialization: { includes: [{ name: 'Lookup', parameters: { dataset: 'trending' } }] }, operations: [{ name: 'Limit', parameters: { n: '$n' } }], fallback: 'nowhere' });
    expect(bad.status).toBe(422);
    expect(bad.body.reason).toContain("its fallback 'nowhere' is not a pipeline of these configs");
  });
});

describe('fallback checks at load', () => {
  const load = async (yaml: string): Promise<string[]> => {
    const d = await tempDir('airmail-fallback-load-');
    try {
      await writeFile(join(d, 't.json'), '[{"sku": 1}]');
      await writeFile(join(d, 'o.json'), '[{"pid": 1}]');
      const r = await loadConfigSet([{ path: join(d, 'c.yaml'), text: `datasets: {t: {path: t.json}, o: {path: o.json}}\npipelines:\n${yaml}` }], { operators: new Map(builtinOperators.map((o) => [o.name, o])) });
      return r.diagnostics.map((x) => `${x.pointer} ${x.message}`);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  };
  const T = '{includes: [{name: Lookup, parameters: {dataset: t}}]}';

  it('says a target that is an A/B experiment is one, and to name one of its arms', async () => {
    const got = await load(`- {name: a, item_type: sku, initialization: ${T}, fallback: feed}\n- {name: b, item_type: sku, inputs: {u: {type: integer}}, initialization: ${T}}\nexperiments:\n- {name: feed, unit: $u, arms: [{pipeline: b, weight: 1}]}\n`);
    expect(got).toContain("/pipelines/0/fallback pipeline 'a': its fallback 'feed' is an A/B experiment, not a pipeline: a fallback answers as one pipeline, so name one of its arms");
  });

  it('refuses a missing target, a cycle, a chain, another item_type, a required input, a missing return column', async () => {
    expect(await load(`- {name: a, item_type: sku, initialization: ${T}, fallback: nope}\n`))
      .toEqual(["/pipelines/0/fallback pipeline 'a': its fallback 'nope' is not a pipeline of these configs; a config that removes or renames it is refused while 'a' names it"]);
    expect(await load(`- {name: a, item_type: sku, initialization: ${T}, fallback: b}\n- {name: b, item_type: sku, initialization: ${T}, fallback: a}\n`))
      .toEqual(["/pipelines/0/fallback pipeline 'a': fallback cycle: 'a' → 'b' → 'a'; a fallback may not have a fallback of its own", "/pipelines/1/fallback pipeline 'b': fallback cycle: 'b' → 'a' → 'b'; a fallback may not have a fallback of its own"]);
    expect(await load(`- {name: a, item_type: sku, initialization: ${T}, fallback: a}\n`)).toEqual(["/pipelines/0/fallback pipeline 'a': its fallback is itself ('a' → 'a' is a cycle); name another pipeline"]);
    expect(await load(`- {name: a, item_type: sku, initialization: ${T}, fallback: b}\n- {name: b, item_type: sku, initialization: ${T}, fallback: c}\n- {name: c, item_type: sku, initialization: ${T}}\n`))
      .toEqual(["/pipelines/0/fallback pipeline 'a': its fallback 'b' has a fallback of its own ('c'); chains are refused: name 'c' directly, or remove the fallback of 'b'"]);
    expect(await load(`- {name: a, item_type: sku, initialization: ${T}, fallback: b}\n- {name: b, item_type: pid, initialization: {includes: [{name: Lookup, parameters: {dataset: o}}]}}\n`))
      .toEqual(["/pipelines/0/fallback pipeline 'a': its fallback 'b' has item_type 'pid', not 'sku': a fallback must answer the same items"]);
    expect(await load(`- {name: a, item_type: sku, initialization: ${T}, fallback: b}\n- {name: b, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: t, where: {sku: $s}}}]}}\n`))
      .toEqual(["/pipelines/0/fallback pipeline 'a': its fallback 'b' requires input 's', which 'a' does not take; give it a default in 'b' (inputs: {s: {default: ...}})"]);
    expect(await load(`- {name: a, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: t}}], scores: [{name: Column, parameters: {column: sku}}]}, fallback: b}\n- {name: b, item_type: sku, initialization: ${T}}\n`))
      .toEqual(["/pipelines/0/fallback pipeline 'a': its fallback 'b' does not return 'score' (it returns sku); a fallback must return every column 'a' returns"]);
    expect(await load(`- {name: a, item_type: sku, initialization: ${T}, fallback: {pipeline: b, when: [error], min_items: 2}}\n- {name: b, item_type: sku, initialization: ${T}}\n`))
      .toEqual(["/pipelines/0/fallback/min_items pipeline 'a': fallback 'min_items' applies to the 'empty' cause only; add 'empty' to 'when' or remove 'min_items'"]);
    // A target's input with a default, or one the pipeline also takes, is fine.
    expect(await load(`- {name: a, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: t, where: {sku: $s}}}]}, fallback: b}\n- {name: b, item_type: sku, inputs: {n: {type: integer, default: 5}}, initialization: {includes: [{name: Lookup, parameters: {dataset: t, where: {sku: $s}}}]}, operations: [{name: Limit, parameters: {n: $n}}]}\n`)).toEqual([]);
  });

  it('an input typed more narrowly here than in the target is fine (a context key vs a Lookup where); a wider one is refused in words', async () => {
    const withClients = async (yaml: string): Promise<string[]> => {
      const d = await tempDir('airmail-fallback-types-');
      try {
        await writeFile(join(d, 't.json'), '[{"sku": 1, "cat": "a"}]');
        await writeFile(join(d, 'c.json'), '[{"client_id": 1, "fav": "a"}]');
        await writeFile(join(d, 'b.json'), '[{"client_id": 1, "sku": 1}]');
        const r = await loadConfigSet([{ path: join(d, 'c.yaml'), text: `datasets: {t: {path: t.json, key: sku}, clients: {path: c.json, key: client_id}, bought: {path: b.json}}\npipelines:\n${yaml}` }], { operators: new Map(builtinOperators.map((o) => [o.name, o])) });
        return r.diagnostics.map((x) => `${x.pointer} ${x.message}`);
      } finally {
        await rm(d, { recursive: true, force: true });
      }
    };
    // The target's exclusion takes client_id as `an integer or a list of integers` (a Lookup where).
    const trending = `- {name: trending, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: t}}], excludes: [{name: Lookup, parameters: {dataset: bought, where: {client_id: $client_id}}}]}}\n`;
    // A context keyed by $client_id takes an integer: every such value is one the target takes.
    expect(await withClients(`- {name: fav, item_type: sku, context: {client: {dataset: clients, key: $client_id}}, initialization: {includes: [{name: Lookup, parameters: {dataset: t, where: {cat: $client.fav}}}]}, fallback: trending}\n${trending}`)).toEqual([]);
    // A declared integer too.
    expect(await withClients(`- {name: recs, item_type: sku, inputs: {client_id: {type: integer}}, initialization: {includes: [{name: Static, parameters: {items: [1]}}]}, fallback: trending}\n${trending}`)).toEqual([]);
    // A text one is not, and the message says it in words.
    expect(await withClients(`- {name: recs, item_type: sku, inputs: {client_id: {type: string}}, initialization: {includes: [{name: Static, parameters: {items: [1]}}]}, fallback: trending}\n${trending}`))
      .toEqual(["/pipelines/0/fallback pipeline 'recs': input 'client_id' is a string in 'recs' but an integer or a list of integers in its fallback 'trending': the same value is sent to both, so a value 'recs' takes must be one 'trending' takes; declare it in 'recs' (inputs: {client_id: {type: ...}}) or in 'trending'"]);
  });

  it('a reload that removes the target is refused, naming both, and the last good configs keep serving', async () => {
    await writeFile(join(dir, 'extra.yaml'), 'pipeline: {name: extra_trending, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: trending}}]}}\n');
    await writeFile(join(dir, 'user.yaml'), 'pipeline: {name: uses_extra, item_type: sku, initialization: {includes: [{name: Static, parameters: {items: []}}]}, fallback: extra_trending}\n');
    await until(() => srv.engine.snapshot.pipelines.has('uses_extra'), 'uses_extra is served', 5000);
    await rm(join(dir, 'extra.yaml'));
    await until(() => srv.engine.store.allRejections().length > 0, 'the removal is refused', 5000);
    const rej = srv.engine.store.allRejections().flatMap((r) => r.diagnostics.map((d) => d.message));
    expect(rej.join('\n')).toContain("pipeline 'uses_extra': its fallback 'extra_trending' is not a pipeline of these configs");
    expect(srv.engine.snapshot.pipelines.has('extra_trending')).toBe(true);
    const r = await get('/pipelines/uses_extra/run');
    expect(r.body).toMatchObject({ pipeline: 'extra_trending', fallback: { from: 'uses_extra', cause: 'empty' } });
  });
});
