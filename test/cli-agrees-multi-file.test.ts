/**
 * Multi-file configs: a preset defined in one file and used in another. `airmail validate DIR`,
 * the server's startup and a hot reload report the same problems. A preset whose `use:` names an
 * operator that is not installed was reported at the use only when a pipeline used it: a reload
 * and `airmail validate` said `p.yaml:...` alone, while startup (which sets the using file aside
 * and loads the defining file again) also said `defs.yaml:...`. It is now said at the definition,
 * as for a preset no pipeline uses, and the use names that file.
 */
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostic, type Diagnostic } from '../engine/errors.js';
import { configStores, ROOT, tempDir } from './helpers.js';

const exec = promisify(execFile);
const open = configStores();
const DEFS = `operators:
  Top:
    use: Limit
    parameters: {n: 2}
`;
const PIPE = `pipeline:
  name: p
  item_type: sku_id
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2, 3]}}]
  operations: [Top]
`;
const BROKEN = DEFS.replace('use: Limit', 'use: Limt');
const dirs: string[] = [];
afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

async function world(defs: string): Promise<string> {
  const dir = await tempDir('airmail-multi-');
  dirs.push(dir);
  await writeFile(join(dir, 'defs.yaml'), defs);
  await writeFile(join(dir, 'p.yaml'), PIPE);
  return dir;
}
const lines = (dir: string, ds: readonly Diagnostic[]): string[] => ds.map((d) => formatDiagnostic({ ...d, ...(d.file ? { file: relative(dir, d.file) } : {}) })).sort();

describe('a preset of one file, broken there, used in another', () => {
  it('startup, reload and airmail validate DIR report the same lines', async () => {
    const expected = [
      "defs.yaml:3:5: preset 'Top' uses operator 'Limt', which is not installed (did you mean 'Limit'?) (at /operators/Top/use) [UNKNOWN_OPERATOR]",
      "p.yaml:6:16: pipeline 'p': preset 'Top' uses operator 'Limt', which is not installed, reported at its definition in defs.yaml (at /pipeline/operations/0) [UNKNOWN_OPERATOR]",
    ];
    const cold = await world(BROKEN);
    expect(lines(cold, await open(cold).start())).toEqual(expected);

    const warm = await world(DEFS);
    const store = open(warm);
    expect(await store.start()).toEqual([]);
    await writeFile(join(warm, 'defs.yaml'), BROKEN);
    await store.rescan();
    expect(lines(warm, store.allRejections().flatMap((r) => r.diagnostics))).toEqual(expected);
    expect(store.snapshot.pipelines.has('p')).toBe(true);

    const cli = await exec(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'validate', '.'], { cwd: cold, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(cli.code).toBe(1);
    expect(cli.stderr.split('\n').filter((l) => / \[[A-Z_]+\]$/.test(l)).sort()).toEqual(expected);
  });
});
