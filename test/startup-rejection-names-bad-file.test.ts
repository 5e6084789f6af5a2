/**
 * A file refused at startup is named alone. The startup load first tries every file together; when
 * that fails it drops the files the problems name and loads the rest. The reload history (GET
 * /pipelines' recent reloads, the /ui page's "Rejected files") used to record that first attempt:
 * a rejection listing every file, good ones included, and one event per attempt.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir } from './helpers.js';

const open = configStores();

describe('startup with one broken file among good ones', () => {
  it('records one rejection naming only the broken file, and one applied load of the rest', async () => {
    const dir = await tempDir('airmail-startrej-');
    await writeFile(join(dir, 'good.yaml'), 'pipeline:\n  name: good\n  item_type: sku_id\n  initialization:\n    includes: [{name: Static, parameters: {items: [1, 2]}}]\n');
    await writeFile(join(dir, 'other.yaml'), 'pipeline:\n  name: other\n  item_type: sku_id\n  initialization:\n    includes: [{name: Static, parameters: {items: [3]}}]\n');
    await writeFile(join(dir, 'bad.yaml'), 'pipeline:\n  name: bad\n  item_type: sku_id\n  initialization:\n    includes: [{name: Statik, parameters: {items: [1]}}]\n');
    const store = open(dir);
    const problems = await store.start();
    expect(problems.map((d) => d.file)).toEqual([join(dir, 'bad.yaml')]);
    const events = store.reloadHistory();
    expect(events.map((e) => e.kind)).toEqual(['rejected', 'applied']);
    expect(events[0]!.files).toEqual([join(dir, 'bad.yaml')]);
    expect([...events[1]!.files].sort()).toEqual([join(dir, 'good.yaml'), join(dir, 'other.yaml')]);
    expect(store.rejectionFor(join(dir, 'bad.yaml'))?.files).toEqual([join(dir, 'bad.yaml')]);
    expect(store.rejectionFor(join(dir, 'good.yaml'))).toBeUndefined();
    await store.close();
  });
});

describe('a file refused with another is removed', () => {
  it('drops the removed file and its problems from the rejection the other still has', async () => {
    const dir = await tempDir('airmail-startrej-gone-');
    await writeFile(join(dir, 'good.yaml'), 'pipeline:\n  name: good\n  item_type: sku_id\n  initialization:\n    includes: [{name: Static, parameters: {items: [1, 2]}}]\n');
    await writeFile(join(dir, 'bad1.yaml'), 'pipeline:\n  name: bad1\n  item_type: sku_id\n  initialization:\n    includes: [{name: Statik, parameters: {items: [1]}}]\n');
    await writeFile(join(dir, 'bad2.yaml'), 'pipeline:\n  name: bad2\n  item_type: sku_id\n  initialization:\n    includes: [{name: Statyk, parameters: {items: [1]}}]\n');
    const store = open(dir);
    await store.start();
    expect([...(store.rejectionFor(join(dir, 'bad1.yaml'))?.files ?? [])].sort()).toEqual([join(dir, 'bad1.yaml'), join(dir, 'bad2.yaml')]);
    await rm(join(dir, 'bad2.yaml'));
    await store.rescan();
    expect(store.rejectionFor(join(dir, 'bad2.yaml'))).toBeUndefined();
    const left = store.rejectionFor(join(dir, 'bad1.yaml'));
    expect(left?.files).toEqual([join(dir, 'bad1.yaml')]);
    expect(left?.diagnostics.map((d) => d.file)).toEqual([join(dir, 'bad1.yaml')]);
    expect(store.allRejections()).toHaveLength(1);
    await store.close();
  });
});
