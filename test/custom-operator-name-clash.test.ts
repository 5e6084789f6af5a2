/**
 * Regression: a custom operator named like a built-in (or like one in another operator file) was
 * refused with "operator 'Sort' from file:///.../ops.ts?v=49df250f09bed671 clashes with an operator
 * of the same name": an import URL with a content hash, and no word of which operator it clashes with.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigSet } from '../engine/config/load.js';
import { OPS, ROOT, tempDir } from './helpers.js';

const IMPORT = `import { defineOperator } from ${JSON.stringify(join(ROOT, 'engine/api.ts'))};\n`;
const op = (exportName: string, name: string): string => `export const ${exportName} = defineOperator({ kind: 'transform', name: '${name}', summary: 's', parameters: { type: 'object' }, run: (_p, input) => ({ rows: input.rows }) });
`;

describe('a custom operator whose name is taken', () => {
  it('names its file and what it clashes with', async () => {
    const dir = await tempDir('airmail-clash-');
    await mkdir(join(dir, 'ops'));
    await writeFile(join(dir, 'ops', 'a.ts'), IMPORT + op('sort', 'Sort') + op('mine', 'Mine'));
    await writeFile(join(dir, 'ops', 'b.ts'), IMPORT + op('mine2', 'Mine'));
    const path = join(dir, 'p.yaml');
    const r = await loadConfigSet([{ path, text: 'operator_paths: [./ops]\n' }], { operators: OPS });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const messages = r.diagnostics.filter((d) => d.code === 'DUPLICATE_NAME').map((d) => d.message);
    expect(messages).toEqual(expect.arrayContaining([
      `operator 'Sort' from ${join(dir, 'ops', 'a.ts')} clashes with the built-in operator 'Sort'; give it another name`,
      `operator 'Mine' from ${join(dir, 'ops', 'b.ts')} clashes with the operator of that name in ${join(dir, 'ops', 'a.ts')}; give it another name`,
    ]));
    expect(messages.join('\n')).not.toContain('?v=');
  });
});
