/**
 * An edited operator file (in an `operator_paths:` folder) is picked up by the next reload, on the
 * main thread and in the workers, and an edit alone triggers that reload. What broke: ES modules are
 * cached by URL, so the old code kept running after the edit until a restart.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { server, tempDir } from './helpers.js';

const source = (ids: number[]): string => `export const nums = {
  kind: 'source', name: 'Nums', summary: 'fixed ids', parameters: { type: 'object' },
  run: () => ({ ids: ${JSON.stringify(ids)} }),
};
`;

describe('operator files are reloaded when edited', () => {
  it('an edit to a loaded operator file changes what the next requests run, with no config edit', async () => {
    const home = await tempDir('airmail-ops-');
    await mkdir(join(home, 'ops'));
    await mkdir(join(home, 'configs'));
    await writeFile(join(home, 'ops', 'nums.js'), source([1, 2]));
    await writeFile(join(home, 'configs', 'p.yaml'), 'operator_paths: [../ops]\npipeline:\n  name: p\n  item_type: id\n  initialization: {includes: [Nums]}\n');
    const srv = await server({ configs: join(home, 'configs'), operators: [], operatorModules: [], threads: 1, watch: true, reloadSettleMs: 20 });
    try {
      expect(srv.startErrors).toEqual([]);
      const ids = async (): Promise<unknown[]> => {
        const r = await request(`${srv.url}/pipelines/p`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
        const body = (await r.body.json()) as { items?: { id: unknown }[] };
        if (!body.items) throw new Error(JSON.stringify(body));
        return body.items.map((i) => i.id);
      };
      expect(await ids()).toEqual([1, 2]);
      await writeFile(join(home, 'ops', 'nums.js'), source([7, 8, 9]));
      let now = await ids();
      for (let i = 0; i < 200 && now.length !== 3; i++) {
        await new Promise((r) => setTimeout(r, 100));
        now = await ids();
      }
      expect(now).toEqual([7, 8, 9]);

      // A broken edit is a rejection and the code that serves stays; undoing it drops the rejection.
      const rejected = async (): Promise<number> => ((await (await request(`${srv.url}/pipelines`)).body.json()) as { rejections: unknown[] }).rejections.length;
      await writeFile(join(home, 'ops', 'nums.js'), `${source([7, 8, 9])}export const x = ;\n`);
      for (let i = 0; i < 200 && (await rejected()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await rejected()).toBeGreaterThan(0);
      expect(await ids()).toEqual([7, 8, 9]);
      await writeFile(join(home, 'ops', 'nums.js'), source([7, 8, 9]));
      for (let i = 0; i < 200 && (await rejected()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await rejected()).toBe(0);
    } finally {
      await srv.close();
    }
  }, 60_000);
});
