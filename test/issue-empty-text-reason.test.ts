/**
 * A client whose favourite category was exported as an empty text ("") got an empty answer whose
 * reason read `includes Lookup(dataset=catalog, where={category=}) returned 0 items`: the value
 * looked missing, as if the config had left it out. Empty text now shows as "".
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../engine/api.js';
import { loadConfigSet } from '../engine/config/load.js';
import { execute } from '../engine/execute.js';
import { summarize } from '../engine/shown-params.js';
import { loadModel } from '../engine/onnx.js';
import { OPS, tempDir } from './helpers.js';

describe('empty text in reasons', () => {
  it('summarize shows "" for an empty value, in where and elsewhere', () => {
    expect(summarize({ dataset: 'catalog', where: { category: '', brand: 'ACME' } })).toBe('dataset=catalog, where={category="", brand=ACME}');
    expect(summarize({ column: 'category', value: '' })).toBe('column=category, value=""');
  });

  it('the empty answer of a context value that is empty text says so', async () => {
    const dir = await tempDir('airmail-empty-text-');
    await writeFile(join(dir, 'catalog.json'), JSON.stringify([{ sku: 'SKU-1', category: 'dairy' }]));
    await writeFile(join(dir, 'clients.json'), JSON.stringify([{ client_id: 'C1', fav: '' }]));
    const config = [
      'datasets:',
      '  catalog: {path: catalog.json, key: sku}',
      '  clients: {path: clients.json, key: client_id}',
      'contexts:',
      '  client: {dataset: clients, key: $client_id}',
      'pipeline:',
      '  name: fav',
      '  item_type: sku',
      '  initialization:',
      '    includes: [{name: Lookup, parameters: {dataset: catalog, where: {category: $client.fav}}}]',
      '',
    ].join('\n');
    const r = await loadConfigSet([{ path: join(dir, 'p.yaml'), text: config }], { operators: OPS });
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const out = await execute(r.snapshot.pipelines.get('fav')!.plan, { datasets: r.snapshot.datasets as ReadonlyMap<string, Dataset>, operators: OPS, model: loadModel }, { client_id: 'C1' });
    expect(out.length).toBe(0);
    expect(out.reason).toBe('includes Lookup(dataset=catalog, where={category=""}) returned 0 items');
  });
});
