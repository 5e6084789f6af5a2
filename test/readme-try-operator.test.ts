/**
 * The README's "Trying an operator by itself" recipe, as written: its operator example in
 * my-operators/, its YAML block in try/in-stock.yaml, and `airmail run try_in_stock --configs try`
 * printing the item the README says. (The README gave an operator author no way to try an operator
 * alone.)
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { airmailCli, ROOT, tempDir } from './helpers.js';

describe('README: trying an operator by itself', () => {
  it('runs as written', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const op = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('**Custom operators.**')))![1]!;
    const at = readme.indexOf('**Trying an operator by itself.**');
    expect(at).toBeGreaterThan(0);
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
    const home = await tempDir('airmail-try-');
    await mkdir(join(home, 'my-operators'));
    await mkdir(join(home, 'try'));
    await writeFile(join(home, 'my-operators', 'in-stock.ts'), op);
    await writeFile(join(home, 'try', 'in-stock.yaml'), yaml);
    const r = await airmailCli({}, 'run', 'try_in_stock', '--configs', join(home, 'try'));
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ items: [{ sku_id: 2, units: 5 }], error: false });
    expect((await airmailCli({}, 'validate', join(home, 'try'))).code).toBe(0);
  }, 60_000);
});
