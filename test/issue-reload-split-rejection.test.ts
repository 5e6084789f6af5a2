/**
 * Two broken files saved together (a pipeline file with its own mistakes, and the shared file,
 * tried after it, with a broken preset the pipeline file uses): the set fails, so each file is tried on its own.
 * The attempt of the shared file alone also names the pipeline file (its pipeline uses the broken
 * preset), and it came last, so GET /pipelines showed, for the pipeline file and every pipeline in
 * it, only "preset 'InStock' has invalid parameters": the pipeline file's own mistakes (`n: three`)
 * were in the log line but nowhere in GET /pipelines until the shared file was fixed.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir } from './helpers.js';

const open = configStores();

const DEFS = 'datasets:\n  catalog: {path: catalog.json, key: sku}\noperators:\n  InStock: {use: Match, parameters: {column: in_stock, op: in, value: ["true", "1"]}}\n';
const PIPE = 'pipeline:\n  name: in_stock\n  item_type: sku\n  initialization:\n    includes: [{name: Lookup, parameters: {dataset: catalog}}]\n  operations:\n  - InStock\n  - {name: Limit, parameters: {n: 3}}\n';

describe('files rejected together, each tried alone', () => {
  it('GET /pipelines keeps every file\'s own problems, not only the last attempt\'s', async () => {
    const dir = await tempDir('airmail-split-rej-');
    await writeFile(join(dir, 'catalog.json'), JSON.stringify([{ sku: 'SKU-00001', in_stock: 'true' }, { sku: 'SKU-00002', in_stock: '' }]));
    await writeFile(join(dir, 'shared.yaml'), DEFS);
    await writeFile(join(dir, 'pipes.yaml'), PIPE);
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    await writeFile(join(dir, 'pipes.yaml'), PIPE.replace('n: 3', 'n: three'));
    await writeFile(join(dir, 'shared.yaml'), DEFS.replace('op: in,', 'op: IN,'));
    const diags = await store.rescan();
    expect(diags.length).toBeGreaterThan(0);
    const pipeRej = store.rejectionFor(join(dir, 'pipes.yaml'));
    const defsRej = store.rejectionFor(join(dir, 'shared.yaml'));
    const messages = (r: typeof pipeRej): string[] => (r?.diagnostics ?? []).map((d) => `${d.file?.split('/').pop()}: ${d.message}`);
    expect(messages(pipeRej)).toEqual(expect.arrayContaining([expect.stringMatching(/^pipes\.yaml: .*'n' must be an integer, not "three"/), expect.stringMatching(/^shared\.yaml: .*'op' must be one of/)]));
    expect(messages(defsRej)).toEqual(expect.arrayContaining([expect.stringMatching(/^shared\.yaml: .*'op' must be one of/)]));
    expect([...(pipeRej?.files ?? [])].map((f) => f.split('/').pop()).sort()).toEqual(['pipes.yaml', 'shared.yaml']);
    // Fixing the shared file leaves the pipeline file's own problem, and only it.
    await writeFile(join(dir, 'shared.yaml'), DEFS);
    await store.rescan();
    expect(messages(store.rejectionFor(join(dir, 'pipes.yaml')))).toEqual([expect.stringMatching(/^pipes\.yaml: .*'n' must be an integer/)]);
    expect(store.rejectionFor(join(dir, 'shared.yaml'))).toBeUndefined();
    // And fixing it clears everything.
    await writeFile(join(dir, 'pipes.yaml'), PIPE);
    await store.rescan();
    expect(store.allRejections()).toEqual([]);
  });
});
