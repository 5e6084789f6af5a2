/**
 * Dataset columns named like properties of Object.prototype. A CSV export or a JSON file (or an
 * upstream's JSON rows) whose columns were named `constructor`, `valueOf` or `__proto__` was read
 * through plain objects: a declared-types lookup found Object's own `constructor` (a CSV with any
 * `columns:` declaration failed to load with "column 'constructor' is declared function Object()
 * { [native code] }"), a row lacking `valueOf` read Object.prototype.valueOf (a function, so a
 * numeric column became text), and a `__proto__` column was assigned as the prototype of the
 * columns object: the column vanished in silence. Now such names read as the data says, and a
 * `__proto__` column, which no row or answer object can hold as a key, is refused by name.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../engine/api.js';
import { valueAt } from '../engine/api.js';
import { loadConfigSet } from '../engine/config/load.js';
import { execute } from '../engine/execute.js';
import { loadModel } from '../engine/onnx.js';
import { tableFromBytes } from '../engine/remote/decode.js';
import { OPS, tempDir } from './helpers.js';

async function load(files: Record<string, string>, config: string): ReturnType<typeof loadConfigSet> {
  const dir = await tempDir('airmail-proto-cols-');
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return loadConfigSet([{ path: join(dir, 'p.yaml'), text: config }], { operators: OPS });
}

const PIPELINE = `pipeline:
  name: p
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
  operations:
  - {name: Match, parameters: {column: constructor, value: red}}
  return: [sku, constructor, valueOf]
`;

describe('dataset columns named like Object.prototype properties', () => {
  it('a CSV with `constructor` and `valueOf` columns and a columns: declaration loads and serves them', async () => {
    const r = await load({ 'items.csv': 'sku,constructor,valueOf\n1,red,3\n2,blue,4\n' }, `datasets:
  items: {path: items.csv, key: sku, columns: {sku: integer}}
${PIPELINE}`);
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics.map((d) => d.message)));
    const p = r.snapshot.pipelines.get('p')!;
    const out = await execute(p.plan, { datasets: r.snapshot.datasets as ReadonlyMap<string, Dataset>, operators: OPS, model: loadModel }, {});
    const row = (i: number): unknown[] => ['sku', 'constructor', 'valueOf'].map((c) => valueAt(out.columns[c]!, i));
    expect(Array.from({ length: out.length }, (_, i) => row(i))).toEqual([[1, 'red', 3]]);
  });

  it('a JSON column that some rows leave out stays numeric, even when named valueOf', async () => {
    const r = await load({ 'items.json': '[{"sku":1,"constructor":"red","valueOf":3},{"sku":2,"constructor":"blue"}]' }, `datasets:
  items: {path: items.json, key: sku}
${PIPELINE}`);
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics.map((d) => d.message)));
    const items = r.snapshot.datasets.get('items')!;
    expect(items.column('valueOf')).toBeInstanceOf(Float64Array);
    expect([valueAt(items.column('valueOf'), 0), valueAt(items.column('valueOf'), 1)]).toEqual([3, null]);
  });

  for (const [file, text] of [
    ['items.csv', 'sku,__proto__\n1,a\n2,b\n'],
    ['items.json', '[{"sku":1,"__proto__":{"polluted":true}},{"sku":2}]'],
  ] as const) {
    it(`a ${file.slice(6)} column named __proto__ is refused by name, not dropped in silence`, async () => {
      const r = await load({ [file]: text }, `datasets:
  items: {path: ${file}, key: sku}
pipeline:
  name: p
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
`);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      const d = r.diagnostics.find((x) => x.code === 'DATASET_LOAD_FAILED');
      expect(d?.message).toMatch(/column is named '__proto__'/);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });
  }

  it("an upstream's JSON rows with a __proto__ key are refused by name", () => {
    const body = Buffer.from('{"items":[{"sku":1,"__proto__":{"x":1}},{"sku":2}]}');
    expect(() => tableFromBytes('recs', body, 'json')).toThrow(/column is named '__proto__'/);
    const t = tableFromBytes('recs', Buffer.from('[{"sku":1,"toString":5},{"sku":2}]'), 'json');
    expect(t.column('toString')).toBeInstanceOf(Float64Array);
  });
});
