/**
 * Regression: at startup, a problem in a custom operator file (one malformed export, a syntax
 * error) was a diagnostic of that file, which is no config: the startup loop could not tell which
 * config to leave out, so it rejected every config and the server served no pipeline at all, even
 * those that use no custom operator. The configs whose `operator_paths` import the broken folder
 * are now left out, and the others serve. And a second after such a start, the folder watch took
 * the files the start had just imported for new ones and reloaded, logging the broken file as an
 * "applied" change; they are now known as tried, while a fix of the file still loads.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { server, tempDir, until } from './helpers.js';

const GOOD = `export const a = {
  kind: 'source', name: 'A', summary: 'fixed ids', parameters: { type: 'object' },
  run: () => ({ ids: [7] }),
};
`;
const BROKEN = `export const b = { kind: 'filtre', name: 'B', run: () => [] };\n`;

describe('a broken operator file at startup', () => {
  it('rejects only the configs that import its folder; the others serve, and no reload is invented', async () => {
    const home = await tempDir('airmail-startop-');
    await mkdir(join(home, 'ops'));
    await mkdir(join(home, 'configs'));
    await writeFile(join(home, 'ops', 'a.js'), GOOD);
    await writeFile(join(home, 'ops', 'b.js'), BROKEN);
    await writeFile(join(home, 'configs', 'custom.yaml'), 'operator_paths: [../ops]\npipeline:\n  name: custom\n  item_type: id\n  initialization: {includes: [A]}\n');
    await writeFile(join(home, 'configs', 'plain.yaml'), 'pipeline:\n  name: plain\n  item_type: id\n  initialization:\n    includes: [{name: Static, parameters: {items: [1, 2]}}]\n');
    const srv = await server({ configs: join(home, 'configs'), threads: 1, watch: true, reloadSettleMs: 20 });
    const run = async (name: string): Promise<{ status: number; ids?: unknown[] }> => {
      const r = await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const body = (await r.body.json()) as { items?: { id: unknown }[] };
      return { status: r.statusCode, ...(body.items ? { ids: body.items.map((i) => i.id) } : {}) };
    };
    type Listing = { rejections: { files: string[] }[]; reloads: { kind: string; files: string[] }[] };
    const listing = async (): Promise<Listing> => (await (await request(`${srv.url}/pipelines`)).body.json()) as Listing;
    try {
      expect(srv.startErrors.map((d) => d.message).join('\n')).toContain("export 'b' (operator 'B') of b.js is not a usable operator definition");
      expect(await run('plain')).toEqual({ status: 200, ids: [1, 2] });
      expect((await run('custom')).status).toBe(404);
      const first = await listing();
      expect(first.rejections.map((r) => r.files)).toEqual([['custom.yaml']]);

      // Past the watch's first poll: nothing changed, so nothing was reloaded.
      await new Promise((r) => setTimeout(r, 1600));
      const later = await listing();
      expect(later.reloads.filter((e) => e.kind === 'applied').map((e) => e.files)).toEqual([['plain.yaml']]);
      expect(later.rejections.map((r) => r.files)).toEqual([['custom.yaml']]);

      // Fixed: the pipeline that imports the folder loads, without its YAML touched.
      await writeFile(join(home, 'ops', 'b.js'), `export const b = { kind: 'filter', name: 'B', summary: 'all', parameters: { type: 'object' }, run: (p, input) => input.rows };\n`);
      await until(async () => (await run('custom')).status === 200, 'pipeline custom to serve', 8000);
      expect(await run('custom')).toEqual({ status: 200, ids: [7] });
      expect(await run('plain')).toEqual({ status: 200, ids: [1, 2] });
    } finally {
      await srv.close();
    }
  }, 60_000);
});
