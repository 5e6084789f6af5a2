import { tableToIPC, tableFromArrays } from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { RemoteBroker } from '../../engine/remote/broker.js';
import { inlineRemote } from '../../engine/remote/client.js';
import { json, startUpstream } from '../../engine/remote/upstream-fixture.js';
import { testContext } from '../../engine/testing.js';
import { runContract } from '../contract.js';
import { catalog } from '../testkit.js';
import { expandEnv, httpSource, type HttpSourceParams } from './http.js';

const INVENTORY: Record<string, { sku_id: number; qty: number }[]> = {
  '1': [{ sku_id: 1, qty: 3 }, { sku_id: 5, qty: 0 }, { sku_id: 7, qty: 9 }],
  '2': [{ sku_id: 2, qty: 1 }, { sku_id: 7, qty: 2 }],
};

const upstream = await startUpstream({
  handler(url) {
    if (url.pathname === '/inventory') return json(INVENTORY[url.searchParams.get('warehouse') ?? ''] ?? []);
    if (url.pathname === '/wrapped') return json({ data: { skus: [3, 4] } });
    if (url.pathname === '/ids') return json([10, 9, 8]);
    if (url.pathname === '/arrow') {
      const t = tableFromArrays({ sku_id: Int32Array.from([4, 6]), w: Float64Array.from([0.5, 0.25]) });
      return { body: tableToIPC(t, 'stream'), contentType: 'application/vnd.apache.arrow.stream' };
    }
    if (url.pathname === '/garbage') return { body: 'not json', contentType: 'application/json' };
    return json({ error: 'nope' }, 404);
  },
});
const broker = new RemoteBroker();
const ctx = (inputs: Record<string, unknown> = {}) => testContext({ itemType: 'sku_id', itemsDataset: 'catalog', datasets: [catalog()], inputs, remote: inlineRemote(broker) });
afterAll(async () => {
  await broker.close();
  await upstream.close();
});

const inv = `${upstream.url}/inventory?warehouse={w}`;

runContract(httpSource, {
  file: import.meta.url,
  ctx: ctx(),
  valid: [
    { url: inv, vars: { w: 1 } },
    { url: inv, vars: { w: 2 }, columns: ['qty'], where: { qty: [1, 2] }, ttl_ms: 1000, stale_ms: 500, jitter: 0.2, timeout_ms: 100, retries: 0 },
    { url: `${upstream.url}/ids` },
    { url: `${upstream.url}/ids`, max_bytes: 1024 },
    { url: `${upstream.url}/wrapped`, path: 'data.skus' },
    { url: `${upstream.url}/arrow`, format: 'arrow', columns: ['w'] },
  ],
  invalid: [{}, { url: 'ftp://x' }, { url: inv, max_bytes: 0 }, { url: inv, retries: -1 }, { url: inv, jitter: 1 }, { url: inv, bogus: 1 }, { url: inv, vars: { w: {} } }],
  problems: [
    { params: { url: inv }, path: '/url', code: 'BAD_PARAMETER' },
    { params: { url: inv, vars: { w: 1, x: 2 } }, path: '/vars/x', code: 'BAD_PARAMETER' },
    { params: { url: '{env:AIRMAIL_TEST_SURELY_UNSET}/x' }, path: '/url', code: 'BAD_PARAMETER' },
  ],
  errors: [
    { params: { url: `${upstream.url}/missing`, retries: 0 }, code: 'SOURCE_FAILED' },
    { params: { url: `${upstream.url}/garbage`, retries: 0 }, code: 'SOURCE_FAILED' },
    { params: { url: `${upstream.url}/inventory?warehouse=1`, column: 'nope' }, code: 'UNKNOWN_COLUMN' },
  ],
});

describe('HttpSource', () => {
  const run = (p: HttpSourceParams) => httpSource.run(p, ctx());

  it('reads ids from the rows the upstream answers, with where and extra columns aligned', async () => {
    expect(Array.from((await run({ url: inv, vars: { w: 1 } })).ids)).toEqual([1, 5, 7]);
    const r = await run({ url: inv, vars: { w: 1 }, where: { qty: [3, 9] }, columns: ['qty'] });
    expect(Array.from(r.ids)).toEqual([1, 7]);
    expect(Array.from(r.columns!['qty'] as Int32Array)).toEqual([3, 9]);
  });

  it('reads a list of scalars, a field under path, and Arrow IPC', async () => {
    expect(Array.from((await run({ url: `${upstream.url}/ids` })).ids)).toEqual([10, 9, 8]);
    expect(Array.from((await run({ url: `${upstream.url}/wrapped`, path: 'data.skus' })).ids)).toEqual([3, 4]);
    const a = await run({ url: `${upstream.url}/arrow`, columns: ['w'] });
    expect(Array.from(a.ids)).toEqual([4, 6]);
    expect(Array.from(a.columns!['w'] as Float64Array)).toEqual([0.5, 0.25]);
  });

  it('fills {vars} URL-encoded and caches per URL: a second run makes no call', async () => {
    upstream.reset();
    await run({ url: inv, vars: { w: 3 } });
    await run({ url: inv, vars: { w: 3 } });
    await run({ url: inv, vars: { w: 'a b&c' } });
    expect(upstream.calls.byUrl.get('/inventory?warehouse=3')).toBe(1);
    expect(upstream.calls.byUrl.get('/inventory?warehouse=a%20b%26c')).toBe(1);
  });

  it('a var without a value for this request fails as SOURCE_FAILED', async () => {
    await expect(run({ url: inv, vars: { w: null } })).rejects.toMatchObject({ code: 'SOURCE_FAILED' });
  });

  it('expands {env:NAME|default} when the config loads', () => {
    process.env['AIRMAIL_TEST_UPSTREAM'] = 'http://inv:1';
    expect(expandEnv('{env:AIRMAIL_TEST_UPSTREAM}/x?w={w}')).toBe('http://inv:1/x?w={w}');
    expect(expandEnv('{env:AIRMAIL_TEST_SURELY_UNSET|http://d:2}/x')).toBe('http://d:2/x');
    delete process.env['AIRMAIL_TEST_UPSTREAM'];
  });
});
