import { describe, expect, it } from 'vitest';
import { lookup } from './lookup.js';
import { runContract } from '../contract.js';
import { BENCH_DIR, BENCH_SKIP_REASON, checkEnv, ctx, requireBench, runBench } from '../testkit.js';
import type { Dataset, Scalar } from '../../engine/api.js';
import { valueAt } from '../../engine/api.js';
import { loadDatasetFile } from '../../engine/dataset.js';
import { testContext } from '../../engine/testing.js';

runContract(lookup, {
  file: import.meta.url,
  ctx: ctx(),
  valid: [
    { dataset: 'inventory', where: { warehouse_id: 1 } },
    { dataset: 'catalog', where: { size: ['M', 'L'], department: 'hats' }, columns: ['price'] },
    { dataset: 'catalog' },
  ],
  invalid: [{}, { dataset: 3 }, { dataset: 'catalog', where: { size: [{}] } }, { dataset: 'catalog', columns: 'price' }, { dataset: 'catalog', filter: {} }],
  problems: [
    { params: { dataset: 'nope' }, path: '/dataset', code: 'UNKNOWN_DATASET' },
    { params: { dataset: 'catalog', where: { colour: 'red' } }, path: '/where/colour', code: 'UNKNOWN_COLUMN' },
    { params: { dataset: 'catalog', columns: ['weight'] }, path: '/columns/0', code: 'UNKNOWN_COLUMN' },
    { params: { dataset: 'inventory', column: 'item' }, path: '/column', code: 'UNKNOWN_COLUMN' },
  ],
  errors: [
    { params: { dataset: 'nope' }, code: 'UNKNOWN_DATASET' },
    { params: { dataset: 'catalog', where: { colour: 'red' } }, code: 'UNKNOWN_COLUMN' },
  ],
});

describe('Lookup', () => {
  it('returns the item ids of matching rows, in dataset order, as Int32Array', async () => {
    const res = await lookup.run({ dataset: 'inventory', where: { warehouse_id: 1 } }, ctx());
    expect(res.ids).toBeInstanceOf(Int32Array);
    expect(Array.from(res.ids)).toEqual([1, 5, 7]);
  });

  it('ANDs where columns; a list value means any of; extra columns stay aligned', async () => {
    const res = await lookup.run({ dataset: 'catalog', where: { size: ['L', 'M'], department: ['hats', 'bags'] }, columns: ['price', 'department'] }, ctx());
    expect(Array.from(res.ids)).toEqual([3, 4, 9, 10]);
    expect(Array.from(res.columns!['price'] as Float64Array)).toEqual([NaN, 40, 15, 70]);
    const dept = res.columns!['department']!;
    expect([0, 1, 2, 3].map((i) => valueAt(dept, i))).toEqual(['hats', 'hats', 'hats', 'bags']);
  });

  it('no where returns every row; an unmatched or null value returns none', async () => {
    expect((await lookup.run({ dataset: 'catalog' }, ctx())).ids).toHaveLength(10);
    expect((await lookup.run({ dataset: 'catalog', where: { size: 'XXL' } }, ctx())).ids).toHaveLength(0);
    expect((await lookup.run({ dataset: 'catalog', where: { size: null } }, ctx())).ids).toHaveLength(0);
  });

  it('declares the columns it brings along as written, with their dataset types (Match or return may use them)', () => {
    const params = { dataset: 'catalog', where: { size: '$size' }, columns: ['price', 'department', 'product_id'] };
    expect(lookup.writes?.(params, checkEnv)).toEqual(['price', 'department', 'product_id']);
    expect(lookup.writeTypes?.(params, checkEnv)).toEqual({ price: 'number', department: 'string', product_id: 'integer' });
    expect(lookup.writes?.({ dataset: 'catalog' }, checkEnv)).toEqual([]);
    expect(lookup.compares?.(params, checkEnv)).toEqual([{ path: '/where/size', column: 'size', dataset: 'catalog' }]);
  });

  it('reads ids from another column when told', async () => {
    const res = await lookup.run({ dataset: 'catalog', column: 'product_id', where: { size: 'S' } }, ctx());
    expect(Array.from(res.ids)).toEqual([100, 300]);
  });

  it.skipIf(!runBench)(`bench: the complimentary_items sources give the expected candidate counts from their indexes${BENCH_SKIP_REASON}`, async () => {
    requireBench();
    const load = (name: string, key?: string) => loadDatasetFile(name, `${BENCH_DIR}${name}.arrow`, 'arrow', key);
    const [catalog, clients, inventory, purchases] = await Promise.all([load('catalog', 'sku_id'), load('clients', 'client_id'), load('inventory'), load('purchases')]);
    const c = testContext({ itemType: 'sku_id', itemsDataset: 'catalog', datasets: [catalog, clients, inventory, purchases] });
    const expected = (await import(`${BENCH_DIR}pipeline_expectations_sample.json`, { with: { type: 'json' } })).default as { client_id: number; n_candidates: number }[];
    const ctxOf = (ds: Dataset, col: string, row: number): Scalar => valueAt(ds.column(col), row);
    for (const req of expected) {
      const row = clients.findRow('client_id', req.client_id);
      const [inv, size, bought] = await Promise.all([
        lookup.run({ dataset: 'inventory', where: { warehouse_id: ctxOf(clients, 'warehouse_id', row) } }, c),
        lookup.run({ dataset: 'catalog', where: { size: ctxOf(clients, 'size', row) } }, c),
        lookup.run({ dataset: 'purchases', where: { client_id: req.client_id } }, c),
      ]);
      const gone = new Set(bought.ids as Int32Array);
      const union = new Set<number>();
      for (const id of [...(inv.ids as Int32Array), ...(size.ids as Int32Array)]) if (!gone.has(id)) union.add(id);
      expect(union.size).toBe(req.n_candidates);
    }
    // Indexes are built on first use; after that a lookup is a slice of the one index, not a scan
    // (its speed is loadtest/'s to measure, not a unit test's).
    const a = inventory.rowsWhere('warehouse_id', 1);
    const b = inventory.rowsWhere('warehouse_id', 1);
    expect(a.length).toBeGreaterThan(0);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset);
  });
});
