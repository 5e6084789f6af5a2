/**
 * A rejection is dropped once its file is fixed: also on the pipelines of OTHER files that the
 * broken file moved. A broken dataset file (or a broken shared defs file) makes every pipeline that
 * uses it report the rejection under `last_rejection`; fixing the file used to drop the rejection
 * only under the fixed file's own name, so GET /pipelines kept showing the old error on every
 * pipeline, forever, although they served the fixed data.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir } from './helpers.js';

const open = configStores();

const DEFS = 'datasets:\n  clients: {path: clients.csv, key: client_id}\n  catalog: {path: catalog.json, key: sku_id}\ncontexts:\n  client: {dataset: clients, key: $client_id}\noperators:\n  InMySize: {use: Lookup, parameters: {dataset: catalog, where: {size: $client.size}}}\n';
const PIPE = 'pipeline:\n  name: trending\n  item_type: sku_id\n  initialization:\n    includes: [InMySize]\n';

async function world(): Promise<string> {
  const dir = await tempDir('airmail-rej-');
  await writeFile(join(dir, 'clients.csv'), 'client_id,size\nC1,M\n');
  await writeFile(join(dir, 'catalog.json'), JSON.stringify([{ sku_id: 1, size: 'M' }]));
  await writeFile(join(dir, 'defs.yaml'), DEFS);
  await writeFile(join(dir, 'trending.yaml'), PIPE);
  return dir;
}

describe('a fixed file clears its rejection on every pipeline it touched', () => {
  it('a broken dataset file, then fixed', async () => {
    const dir = await world();
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    const pipeFile = join(dir, 'trending.yaml');
    await writeFile(join(dir, 'clients.csv'), 'client_id,size\nC1,M\nC2,"unclosed\n');
    expect((await store.rescan()).length).toBeGreaterThan(0);
    expect(store.rejectionFor(pipeFile)?.diagnostics[0]?.code).toBe('DATASET_LOAD_FAILED');
    await writeFile(join(dir, 'clients.csv'), 'client_id,size\nC1,M\nC2,S\nC3,L\n');
    await store.rescan();
    expect(store.rejectionFor(pipeFile)).toBeUndefined();
    expect(store.allRejections()).toEqual([]);
  });

  it('a broken shared defs file, then restored', async () => {
    const dir = await world();
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    const pipeFile = join(dir, 'trending.yaml');
    await writeFile(join(dir, 'defs.yaml'), DEFS.replace('dataset: catalog,', 'dataset: catalogue,'));
    expect((await store.rescan()).length).toBeGreaterThan(0);
    expect(store.rejectionFor(pipeFile)?.diagnostics[0]?.code).toBe('UNKNOWN_DATASET');
    await writeFile(join(dir, 'defs.yaml'), DEFS);
    await store.rescan();
    expect(store.rejectionFor(pipeFile)).toBeUndefined();
    expect(store.allRejections()).toEqual([]);
  });

  it('a rejection of two files stays while one of them is still broken', async () => {
    const dir = await world();
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    await writeFile(join(dir, 'a.yaml'), 'pipeline:\n  name: a\n  item_type: sku_id\n  initialization:\n    includes: [InMySise]\n');
    expect((await store.rescan()).length).toBeGreaterThan(0);
    await writeFile(join(dir, 'defs.yaml'), DEFS.replace('dataset: catalog,', 'dataset: catalogue,'));
    expect((await store.rescan()).length).toBeGreaterThan(0);
    await writeFile(join(dir, 'defs.yaml'), DEFS);
    await store.rescan();
    expect(store.rejectionFor(join(dir, 'trending.yaml'))).toBeUndefined();
    expect(store.rejectionFor(join(dir, 'a.yaml'))?.diagnostics[0]?.code).toBe('UNKNOWN_OPERATOR');
  });
});
