/**
 * Issue: a change rejected for 2 files counted 3 times in airmail_config_reloads_total{result="rejected"}
 * (and wrote 3 warn lines): once for the combined proposal, then once per file as each was proposed
 * alone. One change to the configs is one reload attempt: at most one applied and one rejected event.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReloadEvent } from '../engine/config-store.js';
import { configStores, tempDir } from './helpers.js';

const open = configStores();
const ITEMS = JSON.stringify([{ id: 1 }, { id: 2 }, { id: 3 }]);
const pipeline = (name: string, n: number): string =>
  `pipeline: {name: ${name}, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}, operations: [{name: Limit, parameters: {n: ${n}}}]}\n`;
const BROKEN = (name: string): string => `pipeline: {name: ${name}, item_type: id, initialization: {includes: [NoSuchOperator]}}\n`;

async function setUp(): Promise<{ dir: string; events: ReloadEvent[]; store: ReturnType<typeof open> }> {
  const dir = await tempDir();
  await writeFile(join(dir, 'items.json'), ITEMS);
  await writeFile(join(dir, 'data.yaml'), 'datasets:\n  items: {path: items.json, key: id}\n');
  await writeFile(join(dir, 'a.yaml'), pipeline('a', 1));
  await writeFile(join(dir, 'b.yaml'), pipeline('b', 1));
  const store = open(dir);
  expect(await store.start()).toEqual([]);
  const events: ReloadEvent[] = [];
  store.onReload((e) => events.push(e));
  return { dir, events, store };
}

const names = (files: readonly string[]): string[] => files.map((f) => f.split('/').pop()!).sort();

describe('one reload attempt, one event per result', () => {
  it('two files broken in one change: one rejected event naming both, with the errors of each', async () => {
    const { dir, events, store } = await setUp();
    await writeFile(join(dir, 'a.yaml'), BROKEN('a'));
    await writeFile(join(dir, 'b.yaml'), BROKEN('b'));
    await store.rescan();
    expect(events.map((e) => e.kind)).toEqual(['rejected']);
    expect(names(events[0]!.files)).toEqual(['a.yaml', 'b.yaml']);
    expect(names(events[0]!.diagnostics!.map((d) => d.file!))).toEqual(['a.yaml', 'b.yaml']);
    // Each file's own rejection is still what GET /pipelines shows for it.
    expect(names(store.rejectionFor(join(dir, 'a.yaml'))!.diagnostics.map((d) => d.file!))).toEqual(['a.yaml']);
  });

  it('one good and one broken file in one change: one applied and one rejected event', async () => {
    const { dir, events, store } = await setUp();
    await writeFile(join(dir, 'a.yaml'), pipeline('a', 2));
    await writeFile(join(dir, 'b.yaml'), BROKEN('b'));
    await store.rescan();
    expect(events.map((e) => [e.kind, names(e.files)])).toEqual([['applied', ['a.yaml']], ['rejected', ['b.yaml']]]);
  });

  it('a file still broken is not counted again when another change is applied (it was retried quietly)', async () => {
    const { dir, events, store } = await setUp();
    await writeFile(join(dir, 'b.yaml'), BROKEN('b'));
    await store.rescan();
    await writeFile(join(dir, 'a.yaml'), pipeline('a', 2));
    await store.rescan();
    expect(events.map((e) => [e.kind, names(e.files)])).toEqual([['rejected', ['b.yaml']], ['applied', ['a.yaml']]]);
  });

  it('two good files in one change: one applied event', async () => {
    const { dir, events, store } = await setUp();
    await writeFile(join(dir, 'a.yaml'), pipeline('a', 2));
    await writeFile(join(dir, 'b.yaml'), pipeline('b', 2));
    await store.rescan();
    expect(events.map((e) => [e.kind, names(e.files)])).toEqual([['applied', ['a.yaml', 'b.yaml']]]);
  });
});
