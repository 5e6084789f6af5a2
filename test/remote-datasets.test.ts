/**
 * Datasets that live elsewhere (`datasets:` with `redis:` or `http:`), read
 * through the remote broker when the config loads, against a real
 * redis-server and a real upstream: they serve like file datasets, a reload
 * after their TTL reads them again (and the pipeline version follows their
 * content), and an unreachable one is a config error naming the entry.
 */
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { Redis } from 'ioredis';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { startUpstream, type Upstream } from '../engine/remote/upstream-fixture.js';
import { builtinOperators } from '../operators/index.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const RUN = redisOrSkip();
const OPERATORS_URL = new URL('../operators/index.ts', import.meta.url).href;

describe.skipIf(!RUN)('remote datasets', () => {
  let redis: RedisServer;
  let raw: Redis;
  let upstream: Upstream;
  const engines: Engine[] = [];
  let catalogRows = 3;
  let lastHeaders: Record<string, unknown> = {};

  beforeAll(async () => {
    redis = await startRedis();
    raw = new Redis(redis.url);
    await raw.set('stock', JSON.stringify([{ sku_id: 1, warehouse_id: 1 }, { sku_id: 2, warehouse_id: 2 }, { sku_id: 3, warehouse_id: 1 }]));
    upstream = await startUpstream({
      handler: (_url, headers) => {
        lastHeaders = headers;
        const n = catalogRows;
        const t = tableFromArrays({ sku_id: Int32Array.from({ length: n }, (_, i) => i + 1), w: Float64Array.from({ length: n }, (_, i) => (i + 1) / 10) });
        return { body: tableToIPC(t, 'stream'), contentType: 'application/vnd.apache.arrow.stream' };
      },
    });
  });
  afterAll(async () => {
    for (const e of engines) await e.close();
    raw?.disconnect();
    await upstream?.close();
    await redis?.stop();
  });

  async function engineWith(yaml: string): Promise<{ engine: Engine; dir: string; errors: Awaited<ReturnType<Engine['start']>> }> {
    const dir = await mkdtemp(join(tmpdir(), 'airmail-remote-ds-'));
    await writeFile(join(dir, 'p.yaml'), yaml);
    const engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: { redisUrl: redis.url } });
    const errors = await engine.start();
    engines.push(engine);
    return { engine, dir, errors };
  }

  const config = (comment: string) => `# ${comment}
datasets:
  stock: {redis: {key: stock, type: json}, ttl_ms: 1500}
  catalog: {http: {url: '${upstream.url}/catalog', format: arrow}, key: sku_id, ttl_ms: 1500}
pipeline:
  name: stocked
  item_type: sku_id
  items: catalog
  initialization:
    includes: [{name: Lookup, parameters: {dataset: stock, where: {warehouse_id: $warehouse}}}]
  operations: [{name: Sort, parameters: {by: w, desc: true}}]
  return: [sku_id, w]
`;

  it('serve like file datasets: a Lookup on the Redis one, columns hydrated from the HTTP one', async () => {
    const { engine, errors } = await engineWith(config('v1'));
    expect(errors).toEqual([]);
    const r = await engine.run(engine.pipeline('stocked'), { warehouse: 1 });
    expect(r.items).toEqual([{ sku_id: 3, w: 0.3 }, { sku_id: 1, w: 0.1 }]);
  });

  it('a reload after the TTL reads them again, and the version follows their content', async () => {
    const { engine, dir } = await engineWith(config('v1'));
    const v1 = engine.snapshot.pipelines.get('stocked')!.version;
    upstream.reset();
    // Within the TTL a reload reads nothing remote.
    await writeFile(join(dir, 'p.yaml'), config('v2'));
    await engine.store.rescan();
    expect(upstream.calls.total).toBe(0);
    expect(engine.snapshot.pipelines.get('stocked')!.version).toBe(v1);
    // After it, the changed data is read and gives another version.
    await raw.set('stock', JSON.stringify([{ sku_id: 4, warehouse_id: 1 }, { sku_id: 1, warehouse_id: 1 }]));
    catalogRows = 4;
    await new Promise((r) => setTimeout(r, 1600));
    await writeFile(join(dir, 'p.yaml'), config('v3'));
    await engine.store.rescan();
    expect(upstream.calls.total).toBe(1);
    expect(engine.snapshot.pipelines.get('stocked')!.version).not.toBe(v1);
    const r = await engine.run(engine.pipeline('stocked'), { warehouse: 1 });
    expect(r.items).toEqual([{ sku_id: 4, w: 0.4 }, { sku_id: 1, w: 0.1 }]);
  });

  it('an unreachable remote dataset is a config error that names the entry', async () => {
    const { errors } = await engineWith(`
datasets:
  gone: {http: {url: 'http://127.0.0.1:1/x', timeout_ms: 100, retries: 0}}
pipeline: {name: p, item_type: sku_id, initialization: {includes: [{name: Lookup, parameters: {dataset: gone}}]}}
`);
    expect(errors).toContainEqual(expect.objectContaining({ code: 'DATASET_LOAD_FAILED', pointer: '/datasets/gone/http' }));
    expect(errors.find((e) => e.code === 'DATASET_LOAD_FAILED')!.message).toMatch(/gone.*127\.0\.0\.1:1/);
  });

  it('expand {env:NAME} and {env:NAME|default} in url and headers at load, as HttpSource does; an unset one is a load error naming it', async () => {
    process.env['AIRMAIL_TEST_CATALOG_URL'] = upstream.url;
    process.env['AIRMAIL_TEST_CATALOG_TOKEN'] = 's3cret';
    process.env['AIRMAIL_TEST_STOCK_REDIS'] = redis.url;
    try {
      upstream.reset();
      const { engine, errors } = await engineWith(`
datasets:
  stock: {redis: {key: stock, type: json, url: '{env:AIRMAIL_TEST_STOCK_REDIS}'}}
  catalog: {http: {url: '{env:AIRMAIL_TEST_CATALOG_URL}/catalog?token={env:AIRMAIL_TEST_CATALOG_TOKEN}&v={env:AIRMAIL_TEST_SURELY_UNSET|7}', headers: {x-token: '{env:AIRMAIL_TEST_CATALOG_TOKEN}'}, format: arrow}, key: sku_id}
pipeline: {name: p, item_type: sku_id, items: catalog, initialization: {includes: [{name: Lookup, parameters: {dataset: stock}}]}, return: [sku_id, w]}
`);
      expect(errors).toEqual([]);
      expect([...upstream.calls.byUrl.keys()]).toEqual(['/catalog?token=s3cret&v=7']);
      expect(lastHeaders['x-token']).toBe('s3cret');
      expect((await engine.run(engine.pipeline('p'), {})).items.length).toBeGreaterThan(0);

      const unset = await engineWith(`
datasets:
  a: {http: {url: '{env:AIRMAIL_TEST_SURELY_UNSET}/x', headers: {auth: 'Bearer {env:AIRMAIL_TEST_ALSO_UNSET}'}}}
  b: {redis: {key: k, type: set, url: '{env:AIRMAIL_TEST_SURELY_UNSET}'}}
  c: {http: {url: '{env:AIRMAIL_TEST_CATALOG_TOKEN}/x'}}
`);
      expect(unset.errors.map((e) => [e.code, e.pointer, e.line])).toEqual(expect.arrayContaining([
        ['DATASET_LOAD_FAILED', '/datasets/a/http/url', 3],
        ['DATASET_LOAD_FAILED', '/datasets/a/http/headers/auth', 3],
        ['DATASET_LOAD_FAILED', '/datasets/b/redis/url', 4],
        ['DATASET_LOAD_FAILED', '/datasets/c/http/url', 5],
      ]));
      const msgs = unset.errors.map((e) => e.message).join('\n');
      expect(msgs).toMatch(/dataset 'a': environment variable AIRMAIL_TEST_SURELY_UNSET is not set/);
      expect(msgs).toMatch(/AIRMAIL_TEST_ALSO_UNSET is not set/);
      expect(msgs).toMatch(/dataset 'c': the url, once \{env:\} is expanded, is not a http:\/\/ or https:\/\/ URL/);
      expect(msgs).not.toContain('s3cret');

      // A failing expanded URL is shown without its query string, where the token is.
      const failing = await engineWith(`
datasets:
  gone: {http: {url: 'http://127.0.0.1:1/x?token={env:AIRMAIL_TEST_CATALOG_TOKEN}', timeout_ms: 100, retries: 0}}
`);
      const gone = failing.errors.find((e) => e.code === 'DATASET_LOAD_FAILED')!;
      expect(gone.message).toMatch(/127\.0\.0\.1:1\/x\?\*\*\*/);
      expect(gone.message).not.toContain('s3cret');
    } finally {
      delete process.env['AIRMAIL_TEST_CATALOG_URL'];
      delete process.env['AIRMAIL_TEST_CATALOG_TOKEN'];
      delete process.env['AIRMAIL_TEST_STOCK_REDIS'];
    }
  });

  it('a Redis dataset whose key does not exist says it read no rows, not "(it has: )"', async () => {
    const { errors } = await engineWith(`
datasets:
  missing: {redis: {key: no-such-key, type: json}, key: sku_id}
  empty: {redis: {key: no-such-set, type: set}}
pipeline: {name: p, item_type: value, initialization: {includes: [{name: Lookup, parameters: {dataset: empty, where: {value: 1}}}]}}
`);
    expect(errors.find((e) => e.pointer === '/datasets/missing/key')?.message).toBe(
      "dataset 'missing' has no column 'sku_id' to use as its key (it is empty: it was read from no rows, so it has no columns; does Redis key 'no-such-key' exist?)",
    );
    expect(errors.find((e) => e.pointer?.endsWith('/where/value'))?.message).toMatch(/dataset 'empty' has no column 'value' \(it is empty: it was read from no rows/);
  });

  it('a dataset with neither path, redis nor http is rejected by the config schema', async () => {
    const { errors } = await engineWith('datasets:\n  odd: {key: x}\n');
    expect(errors.some((e) => e.code === 'CONFIG_INVALID' && (e.pointer ?? '').startsWith('/datasets/odd'))).toBe(true);
  });
});
