/**
 * Item ids past 2^53 (64-bit SKUs such as 9007199254740993) and booleans as ids. A number holds
 * integers exactly only up to ±9007199254740991: JSON.parse, a CSV reader and YAML read
 * 9007199254740993 as 9007199254740992, so two items merged and the wrong id was served. An upstream
 * answering [true, false] gave items 1 and 0. Each is now refused where the data is read as ids,
 * naming the dataset or step and telling the user to use text ids; big numbers elsewhere still load.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Dataset } from '../engine/api.js';
import { valueAt } from '../engine/api.js';
import { loadConfigSet } from '../engine/config/load.js';
import { Engine } from '../engine/engine.js';
import { execute } from '../engine/execute.js';
import { loadModel } from '../engine/onnx.js';
import { json, startUpstream, type Upstream } from '../engine/remote/upstream-fixture.js';
import { keyedIds } from '../engine/source-ids.js';
import { builtinOperators } from '../operators/index.js';
import { OPERATORS_URL, OPS, tempDir } from './helpers.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

async function load(files: Record<string, string>, config: string) {
  const dir = await tempDir('airmail-unsafe-ids-');
  for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
  return loadConfigSet([{ path: join(dir, 'p.yaml'), text: config }], { operators: OPS });
}
const problems = (r: Awaited<ReturnType<typeof load>>): string => (r.ok ? '' : r.diagnostics.map((d) => `${d.code} ${d.pointer ?? ''} ${d.message}`).join('\n'));

const BIG_JSON = '[{"sku_id": 9007199254740993, "units": 1}, {"sku_id": 9007199254740992, "units": 2}, {"sku_id": 3, "units": 9007199254740993}]';
const BIG_CSV = 'sku_id,units\n9007199254740993,1\n9007199254740992,2\n3,5\n';
const LOOKUP = 'pipeline: {name: p, item_type: sku_id, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n';

describe('dataset ids past 2^53', () => {
  it('a JSON dataset key holding one is a load error naming the dataset, the column and the way out', async () => {
    const r = await load({ 'items.json': BIG_JSON }, `datasets:\n  items: {path: items.json, key: sku_id}\n${LOOKUP}`);
    expect(r.ok).toBe(false);
    expect(problems(r)).toMatch(/DATASET_LOAD_FAILED \/datasets\/items\/key dataset 'items': column 'sku_id' \(its key\) holds 9007199254740992 in data row 1, past .*9007199254740991.*must be text: write them as JSON strings/);
  });

  it('a CSV dataset key too; declared `columns: {sku_id: string}` keeps every id exact and apart', async () => {
    const bad = await load({ 'items.csv': BIG_CSV }, `datasets:\n  items: {path: items.csv, key: sku_id}\n${LOOKUP}`);
    expect(problems(bad)).toContain("column 'sku_id' (its key) holds 9007199254740992 in data row 1");
    expect(problems(bad)).toContain('`columns: {sku_id: string}`');
    const r = await load({ 'items.csv': BIG_CSV }, `datasets:\n  items: {path: items.csv, key: sku_id, columns: {sku_id: string}}\n${LOOKUP}`);
    if (!r.ok) throw new Error(problems(r));
    const p = r.snapshot.pipelines.get('p')!;
    const out = await execute(p.plan, { datasets: r.snapshot.datasets as ReadonlyMap<string, Dataset>, operators: OPS, model: loadModel }, {});
    expect(Array.from({ length: out.length }, (_, i) => valueAt(out.columns['sku_id']!, i)).sort()).toEqual(['3', '9007199254740992', '9007199254740993']);
  });

  it('a keyless dataset read as item ids (Lookup, Exclude) or as a context key is refused at load; a big non-id column loads', async () => {
    const r = await load({ 'inv.json': BIG_JSON, 'ok.json': '[{"sku_id": 5, "units": 9007199254740993, "ext": 123456789012345678901}]' }, `datasets:
  inv: {path: inv.json}
  ok: {path: ok.json}
contexts:
  byext: {dataset: ok, key: $e, column: ext}
pipelines:
- {name: a, item_type: sku_id, initialization: {includes: [{name: Lookup, parameters: {dataset: inv}}]}}
- {name: b, item_type: sku_id, initialization: {includes: [{name: Lookup, parameters: {dataset: ok}}]}, operations: [{name: Exclude, parameters: {dataset: inv}}]}
- {name: c, item_type: sku_id, initialization: {includes: [{name: Lookup, parameters: {dataset: ok, where: {units: $byext.units}}}]}}
- {name: d, item_type: sku_id, initialization: {includes: [{name: Lookup, parameters: {dataset: ok, where: {units: 1}}}]}}
`);
    const text = problems(r);
    expect(text).toMatch(/DATASET_LOAD_FAILED \/pipelines\/0\/initialization\/includes\/0\/parameters pipeline 'a': Lookup: dataset 'inv': column 'sku_id' \(read as item ids\) holds 9007199254740992/);
    expect(text).toMatch(/DATASET_LOAD_FAILED \/pipelines\/1\/operations\/0\/parameters pipeline 'b': Exclude: dataset 'inv': column 'sku_id' \(read as item ids\)/);
    expect(text).toMatch(/DATASET_LOAD_FAILED \/contexts\/byext\/column dataset 'ok': column 'ext' \(the key of context 'byext'\)/);
    // Pipeline d reads 'units' (past 2^53) only as a value: no problem names it.
    expect(text).not.toContain('/pipelines/3');
    expect(text.split('\n')).toHaveLength(3);
  });

  it('a literal item id past 2^53 in a config (Static, Exclude ids) is refused at load, with or without an items dataset', async () => {
    const r = await load({}, `pipeline:
  name: s
  item_type: sku_id
  initialization: {includes: [{name: Static, parameters: {items: [9007199254740993, 3]}}]}
  operations: [{name: Exclude, parameters: {ids: [12345678901234567890]}}]
`);
    const text = problems(r);
    expect(text).toMatch(/BAD_PARAMETER \/pipeline\/initialization\/includes\/0\/parameters\/items\/0 pipeline 's': Static: item id 9007199254740992 is past/);
    expect(text).toMatch(/BAD_PARAMETER \/pipeline\/operations\/0\/parameters\/ids\/0 pipeline 's': Exclude: item id 12345678901234567000 is past/);
  });

  it('a JSON dataset column of booleans is no id column', async () => {
    const r = await load({ 'flags.json': '[{"sku_id": true}, {"sku_id": false}]' }, `datasets:\n  items: {path: flags.json}\n${LOOKUP}`);
    expect(problems(r)).toContain("dataset 'items': column 'sku_id' (read as item ids) holds true/false, which are no ids");
  });
});

describe('source ids past 2^53 (keyedIds, every source)', () => {
  const res = (ids: readonly (string | number)[] | Float64Array) => ({ ids });
  it('refuses a number past 2^53 whatever the id kind, and numeric text that would round', () => {
    for (const kind of ['number', 'string', undefined] as const) {
      expect(() => keyedIds(res(Float64Array.of(1, 9007199254740992)), kind, 'S', 'sku_id')).toThrow(/returned 9007199254740992 as an item id \(at 1\): an item id past .*must be text/);
    }
    expect(() => keyedIds(res(['1', '9007199254740993']), 'number', 'S', 'sku_id')).toThrow(/"9007199254740993" as an item id \(at 1\)/);
    // As text ids they are exact: nothing to refuse.
    expect(keyedIds(res(['9007199254740993', '9007199254740992']), 'string', 'S', 'sku_id').ids).toEqual(['9007199254740993', '9007199254740992']);
    expect(keyedIds(res([-9007199254740991, 9007199254740991]), 'number', 'S', 'sku_id').ids).toEqual([-9007199254740991, 9007199254740991]);
  });
});

describe('remote sources: big and boolean ids end to end', () => {
  let upstream: Upstream;
  let engine: Engine;
  let redis: RedisServer | undefined;
  const RUN_REDIS = redisOrSkip();
  beforeAll(async () => {
    if (RUN_REDIS) {
      redis = await startRedis();
      const c = new Redis(redis.url);
      await c.sadd('big', '9007199254740993', '9007199254740992');
      await c.sadd('edge', '9007199254740992');
      await c.quit();
    }
    upstream = await startUpstream({
      handler: (u) => (u.pathname === '/bool' ? json([true, false]) : { body: '[9007199254740993, 9007199254740992]', contentType: 'application/json' }),
    });
    const dir = await tempDir('airmail-unsafe-remote-');
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data', 'items.json'), JSON.stringify([{ sku_id: '9007199254740993' }, { sku_id: '9007199254740992' }, { sku_id: '1' }]));
    await writeFile(join(dir, 'p.yaml'), `
datasets: {items: {path: data/items.json, key: sku_id}}
pipelines:
- {name: big, item_type: sku_id, initialization: {includes: [{name: HttpSource, parameters: {url: '${upstream.url}/big', retries: 0}}]}}
- {name: bool, item_type: sku_id, initialization: {includes: [{name: HttpSource, parameters: {url: '${upstream.url}/bool', retries: 0}}]}}
${redis ? `- {name: redis, item_type: sku_id, initialization: {includes: [{name: RedisSource, parameters: {url: '${redis.url}', key: big, type: set}}]}}
- {name: edge, item_type: code, initialization: {includes: [{name: RedisSource, parameters: {url: '${redis.url}', key: edge, type: set}}]}}` : ''}
`);
    engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: {} });
    expect(await engine.start()).toEqual([]);
  }, 60_000);
  afterAll(async () => {
    await engine?.close();
    await upstream?.close();
    await redis?.stop();
  });

  it('an upstream answering JSON numbers past 2^53 fails the step, naming it, instead of serving a merged id', async () => {
    const r = await engine.run(engine.pipeline('big'), {});
    expect(r.error).toBe(true);
    expect(r.items).toEqual([]);
    expect(r.reason).toMatch(/HttpSource.*9007199254740992 as an item id .*must be text/);
  });

  it('an upstream answering booleans as ids fails the step (they were items 1 and 0)', async () => {
    const r = await engine.run(engine.pipeline('bool'), {});
    expect(r.error).toBe(true);
    expect(r.reason).toMatch(/HttpSource.*'value' holds true\/false, which are no item ids/);
  });

  it.skipIf(!RUN_REDIS)('a Redis set of 64-bit ids stays exact as text ids: two items, never one', async () => {
    const r = await engine.run(engine.pipeline('redis'), {});
    expect(r.error).toBe(false);
    expect(r.items.map((i) => i['sku_id']).sort()).toEqual(['9007199254740992', '9007199254740993']);
    // Without an items dataset to say, a Redis member past 2^53 stays the text it was, never a number.
    const e = await engine.run(engine.pipeline('edge'), {});
    expect(e.error).toBe(false);
    expect(e.items).toEqual([{ code: '9007199254740992' }]);
  });
});
