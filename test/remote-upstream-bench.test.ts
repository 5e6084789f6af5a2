/**
 * The upstream bench scenario is the same pipeline: complimentary_items with
 * AvailableInventory from loadtest/upstream-inventory.ts (5 ms latency) gives
 * the same items as with inventory.arrow, for the sample requests of the
 * standard workload, and a cold cache calls the upstream once per warehouse.
 * Needs ../shared/bench: under CI its absence is a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valueAt } from '../engine/api.js';
import { Engine } from '../engine/engine.js';
import { startUpstreamInventory, type UpstreamInventory } from '../loadtest/upstream-inventory.js';
import { builtinOperators } from '../operators/index.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BENCH = resolve(ROOT, '../shared/bench');
const OPERATORS_URL = new URL('../operators/index.ts', import.meta.url).href;
const HAS_BENCH = existsSync(join(BENCH, 'inventory.arrow'));
if (!HAS_BENCH && process.env['CI']) throw new Error(`../shared/bench is missing at ${BENCH}: CI must run the standard-workload tests`);
if (!HAS_BENCH) console.warn(`skipping: the standard workload is not at ${BENCH}`);

interface Item { sku_id: number; product_id: number; score: number }
interface Expected { client_id: number; product_id: number; items: Item[] }

describe.runIf(HAS_BENCH)('complimentary_items with AvailableInventory from the upstream service', () => {
  let upstream: UpstreamInventory;
  let local: Engine;
  let remote: Engine;
  const saved = process.env['AIRMAIL_INVENTORY_URL'];

  beforeAll(async () => {
    upstream = await startUpstreamInventory({ latencyMs: 5, benchDir: BENCH });
    process.env['AIRMAIL_INVENTORY_URL'] = upstream.url; // read when the config loads
    const common = { operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: {} } as const;
    local = new Engine({ ...common, configs: join(ROOT, 'loadtest/bench-configs') });
    remote = new Engine({ ...common, configs: join(ROOT, 'loadtest/bench-configs-upstream') });
    expect(await local.start()).toEqual([]);
    expect(await remote.start()).toEqual([]);
  }, 60_000);
  afterAll(async () => {
    if (saved === undefined) delete process.env['AIRMAIL_INVENTORY_URL'];
    else process.env['AIRMAIL_INVENTORY_URL'] = saved;
    await local?.close();
    await remote?.close();
    await upstream?.close();
  });

  it('gives the same items as the local pipeline, calling the upstream once per distinct warehouse', async () => {
    const expected = JSON.parse(readFileSync(join(BENCH, 'pipeline_expectations_sample.json'), 'utf8')) as Expected[];
    const clients = local.snapshot.datasets.get('clients')!;
    const warehouses = new Set(expected.map((e) => valueAt(clients.column('warehouse_id'), clients.findRow('client_id', e.client_id))));
    upstream.reset();
    for (const pair of [['complimentary_items', 'complimentary_items_upstream'], ['complimentary_items_mlp', 'complimentary_items_upstream_mlp']] as const) {
      for (const e of expected) {
        const inputs = { client_id: e.client_id, product_id: e.product_id };
        const want = await local.run(local.pipeline(pair[0]), { ...inputs });
        const got = await remote.run(remote.pipeline(pair[1]), { ...inputs });
        expect(want.error).toBe(false);
        expect(got.error).toBe(false);
        expect(got.items.length).toBe(10);
        expect(got.items).toEqual(want.items);
      }
    }
    const calls = upstream.calls();
    expect(calls.total).toBe(warehouses.size);
    for (const w of warehouses) expect(calls.byWarehouse[String(w)]).toBe(1);
  }, 60_000);
});
