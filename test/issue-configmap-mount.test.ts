/**
 * A configs directory mounted from a Kubernetes ConfigMap, as the kubelet's AtomicWriter lays it
 * out: a timestamped folder holding the keys, `..data` linking to it, and each key a link
 * `k -> ..data/k`; an update writes a new folder, links `..data_tmp` to it, renames that over
 * `..data` and removes the old folder. The mount is read-only, and the server runs as a user that
 * cannot write it (nobody, when the test runs as root).
 *
 * Edits, added and removed keys (a CSV dataset among them) and a broken edit are served within the
 * README's second plus the settle window, with every request answered 200 meanwhile. Admin
 * `POST /pipelines` and `DELETE /pipelines/{name}` on such a directory used to be a 500 INTERNAL
 * (EACCES) after the change had already been applied: the posted pipeline served until the next
 * scan removed it, and the deleted one answered 404 until the next scan brought it back. Now they
 * are a 409 CONFIGS_NOT_WRITABLE and nothing served changes.
 */
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, until } from './helpers.js';
import { serveAsNobody } from './serve-as-nobody.js';

let stamp = 0;

/** Lays out (or updates) `dir` with `keys` as the kubelet does, then makes it read-only. */
async function atomicWrite(dir: string, keys: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const ts = `..2026_11_24_10_00_${String(stamp++).padStart(2, '0')}.123456789`;
  await mkdir(join(dir, ts));
  for (const [k, v] of Object.entries(keys)) await writeFile(join(dir, ts, k), v);
  await chmod(join(dir, ts), 0o555);
  const old = await readlink(join(dir, '..data')).catch(() => undefined);
  await symlink(ts, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  const entries = await readdir(dir);
  for (const k of Object.keys(keys)) if (!entries.includes(k)) await symlink(`..data/${k}`, join(dir, k));
  for (const e of entries) if (!e.startsWith('..') && !(e in keys)) await rm(join(dir, e));
  if (old) {
    await chmod(join(dir, old), 0o755);
    await rm(join(dir, old), { recursive: true });
  }
  await chmod(dir, 0o555);
}

const DEFS = 'datasets:\n  items: {path: items.csv, key: sku_id}\n';
const CSV = 'sku_id,color,price\n1,red,10\n2,blue,20\n3,red,30\n4,green,5\n';
const pipeline = (name: string, color: string): string => [
  'pipeline:', `  name: ${name}`, '  item_type: sku_id', '  initialization:',
  `    includes: [{name: Lookup, parameters: {dataset: items, where: {color: ${color}}}}]`,
  '  operations:', '  - {name: Hydrate, parameters: {columns: [price]}}', '  - {name: Sort, parameters: {by: price, desc: true}}',
  '  return: [sku_id, price]', '',
].join('\n');

describe('a read-only ConfigMap mount as the configs directory', () => {
  let child: ChildProcess | undefined;
  let root: string | undefined;
  afterAll(async () => {
    child?.kill('SIGKILL');
    if (root) {
      await chmod(join(root, 'cm'), 0o755).catch(() => undefined);
      for (const e of await readdir(join(root, 'cm')).catch(() => [])) if (e.startsWith('..2')) await chmod(join(root, 'cm', e), 0o755).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    }
  });

  it('edits, added and removed keys and a broken edit are served in time, with no failed request; admin changes are a clear 409 and change nothing', async () => {
    root = await tempDir('airmail-configmap-');
    await chmod(root, 0o755);
    const cm = join(root, 'cm');
    const state = join(root, 'state');
    await mkdir(state);
    let keys: Record<string, string> = { 'defs.yaml': DEFS, 'items.csv': CSV, 'reds.yaml': pipeline('reds', 'red') };
    await atomicWrite(cm, keys);

    const server = await serveAsNobody(cm, state, { threads: 1, env: { AIRMAIL_ADMIN_TOKEN: 'tok' } });
    child = server.child;
    const url = server.url;

    const run = async (name: string): Promise<{ status: number; skus: number[] }> => {
      const r = await fetch(`${url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const j = (await r.json()) as { items?: { sku_id: number }[] };
      return { status: r.status, skus: (j.items ?? []).map((i) => i.sku_id) };
    };
    expect(await run('reds')).toEqual({ status: 200, skus: [3, 1] });

    // Light load on reds all along: every answer a 200 with one of the states it was given.
    const seen: string[] = [];
    let loading = true;
    const load = (async () => {
      while (loading) {
        const r = await run('reds');
        seen.push(`${r.status} ${r.skus.join(',')}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    // Within the README's second plus the settle window (400 ms), with a margin for a loaded machine.
    const served = (name: string, want: { status: number; skus: number[] }, what: string): Promise<void> =>
      until(async () => JSON.stringify(await run(name)) === JSON.stringify(want), what, 4000);

    keys = { ...keys, 'items.csv': `${CSV}5,red,50\n` };
    await atomicWrite(cm, keys);
    await served('reds', { status: 200, skus: [5, 3, 1] }, 'the edited dataset key is served');
    keys = { ...keys, 'reds.yaml': pipeline('reds', 'blue') };
    await atomicWrite(cm, keys);
    await served('reds', { status: 200, skus: [2] }, 'the edited pipeline key is served');
    keys = { ...keys, 'greens.yaml': pipeline('greens', 'green') };
    await atomicWrite(cm, keys);
    await served('greens', { status: 200, skus: [4] }, 'the added key is served');
    const { 'greens.yaml': _gone, ...without } = keys;
    keys = without;
    await atomicWrite(cm, keys);
    await served('greens', { status: 404, skus: [] }, 'the removed key is no longer served');
    await atomicWrite(cm, { ...keys, 'reds.yaml': 'pipeline:\n  name: reds\n  item_type: [broken\n' });
    await until(async () => {
      const p = (await (await fetch(`${url}/pipelines`)).json()) as { rejections: { diagnostics: { code: string; message: string }[] }[] };
      return p.rejections.some((r) => r.diagnostics.some((d) => d.code === 'CONFIG_SYNTAX'));
    }, 'the broken edit is rejected', 4000);
    expect(await run('reds')).toEqual({ status: 200, skus: [2] });
    await atomicWrite(cm, keys);
    await until(async () => ((await (await fetch(`${url}/pipelines`)).json()) as { rejections: unknown[] }).rejections.length === 0, 'the fixed key clears the rejection', 4000);

    // Admin changes cannot be saved on a read-only mount: 409, and nothing served moves, not even for a moment.
    const auth = { authorization: 'Bearer tok' };
    const put = await fetch(`${url}/pipelines`, { method: 'POST', headers: { ...auth, 'content-type': 'application/yaml' }, body: pipeline('posted', 'red') });
    const putBody = (await put.json()) as { code: string; errors: { file: string; message: string }[] };
    expect(put.status).toBe(409);
    expect(putBody.code).toBe('CONFIGS_NOT_WRITABLE');
    expect(putBody.errors[0]!.message).toMatch(/cannot be written \((EACCES|EROFS|EPERM) on posted\.yaml\)/);
    expect((await run('posted')).status).toBe(404);
    const del = await fetch(`${url}/pipelines/reds`, { method: 'DELETE', headers: auth });
    expect(del.status).toBe(409);
    expect(((await del.json()) as { code: string }).code).toBe('CONFIGS_NOT_WRITABLE');
    expect(await run('reds')).toEqual({ status: 200, skus: [2] });
    await new Promise((r) => setTimeout(r, 1500)); // a scan or two later: still nothing moved
    loading = false;
    await load;
    expect((await run('posted')).status).toBe(404);
    const states = new Set(seen);
    expect([...states].filter((s) => !['200 3,1', '200 5,3,1', '200 2'].includes(s))).toEqual([]);
    expect(server.output()).not.toMatch(/"level":"error"|vanished|INTERNAL/);
  }, 90_000);
});
