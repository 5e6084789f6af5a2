/**
 * Issue: once the configs directory was deleted and made again (`rm -rf configs && cp -r new
 * configs`), or the configs path was a link switched to another directory, the fs.watch still sat
 * on the old directory and heard nothing: edits were seen only by the slow poll (up to its interval
 * plus the settle window, past the second a reload is promised in). The watch now follows the path.
 * The poll is set to a minute here, so only the watch can make these changes take effect.
 */
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigStore } from '../engine/config-store.js';
import { configStores, tempDir } from './helpers.js';

const open = configStores();

const config = (ids: number[]): string =>
  `pipeline:\n  name: p\n  item_type: id\n  initialization:\n    includes:\n    - {name: Static, parameters: {items: [${ids.join(', ')}]}}\n`;

/** The version of pipeline `p` the store serves now. */
const served = (s: ConfigStore): string => s.snapshot.pipelines.get('p')?.version ?? '';

async function settlesWithin(s: ConfigStore, before: string, ms: number): Promise<number> {
  const t0 = Date.now();
  while (served(s) === before) {
    if (Date.now() - t0 > ms) throw new Error(`no reload within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

async function startWatched(dir: string): Promise<ConfigStore> {
  const s = open(dir);
  expect(await s.start()).toEqual([]);
  s.watch(60_000);
  return s;
}

describe('issue: the configs directory deleted and made again, or its link switched', () => {
  it('edits after the directory was deleted and recreated take effect within a second', async () => {
    const dir = join(await tempDir(), 'configs');
    await mkdir(dir);
    await writeFile(join(dir, 'p.yaml'), config([1]));
    const s = await startWatched(dir);
    let v = served(s);
    await rm(dir, { recursive: true });
    await mkdir(dir);
    await writeFile(join(dir, 'p.yaml'), config([2]));
    expect(await settlesWithin(s, v, 1000)).toBeLessThan(1000);
    v = served(s);
    // and the new directory is watched: a later edit is as quick
    await writeFile(join(dir, 'p.yaml'), config([3]));
    expect(await settlesWithin(s, v, 1000)).toBeLessThan(1000);
  });

  it('a configs path that is a link switched to another directory (a release switch) is followed', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'v1'));
    await mkdir(join(root, 'v2'));
    await writeFile(join(root, 'v1', 'p.yaml'), config([1]));
    await writeFile(join(root, 'v2', 'p.yaml'), config([2]));
    await symlink('v1', join(root, 'current'));
    const s = await startWatched(join(root, 'current'));
    let v = served(s);
    await symlink('v2', join(root, 'next'));
    await rename(join(root, 'next'), join(root, 'current'));
    expect(await settlesWithin(s, v, 1000)).toBeLessThan(1000);
    v = served(s);
    await writeFile(join(root, 'v2', 'p.yaml'), config([4]));
    expect(await settlesWithin(s, v, 1000)).toBeLessThan(1000);
  });
});
