/**
 * Regression: an operator author's mistakes in an operator file were reported badly or not at all.
 * A JS syntax error said only "Unexpected token ','" (no file, no line) and made every operator of
 * the folder "not installed"; a throw while the module ran gave no line; a `parameters` that is no
 * JSON Schema crashed `airmail validate` with ajv's "schema is invalid ... (unexpected: please report
 * it)"; an export with a misspelt `kind` or no `run` was silently skipped, so the pipeline only
 * heard "neither an installed operator nor a preset". Each is now a CONFIG_INVALID at load naming
 * the operator file (and line where there is one), and the sound files of the folder still load.
 * Run through the real CLI: Node's own loader (not vitest's) is what gives these errors their shape.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { airmailCliIn, tempDir } from './helpers.js';

const IMPORT = `import { defineOperator } from 'airmail/engine/api.js';\n`;
const FILES: Record<string, string> = {
  'good.js': `${IMPORT}export const good = defineOperator({ kind: 'filter', name: 'Good', summary: 's', parameters: { type: 'object' }, run: (_p, input) => input.rows });\n`,
  'x.js': `${IMPORT}\nexport const x = defineOperator({ kind: 'filter', name: 'X',, summary: 's' });\n`,
  'a.ts': `${IMPORT}const a: number = ;\n`,
  'b.js': `${IMPORT}\n\nthrow new Error('no config for me');\n`,
  'c.js': `${IMPORT}import pad from 'surely-not-installed-pkg';\nexport const c = pad;\n`,
  'y.js': `${IMPORT}export const y = defineOperator({ kind: 'filter', name: 'Y', summary: 's', parameters: { type: 'objekt', properties: { n: { type: 'int' } } }, run: (_p, i) => i.rows });\n`,
  'z.js': `${IMPORT}export const z = { kind: 'filtre', name: 'Z', summary: 's', parameters: { type: 'object' }, run: (_p, i) => i.rows };
export const w = { kind: 'filter', name: 'W', summary: 's', parameters: { type: 'object' } };
export const helper = { name: 'not an operator' };
`,
};

let dir = '';
let lines: string[] = [];
let code = 0;

beforeAll(async () => {
  dir = await tempDir('airmail-opfile-');
  await mkdir(join(dir, 'ops'));
  await mkdir(join(dir, 'configs'));
  for (const [name, text] of Object.entries(FILES)) await writeFile(join(dir, 'ops', name), text);
  await mkdir(join(dir, 'configs', 'data'));
  await writeFile(join(dir, 'configs', 'data', 't.json'), '[{"sku_id": 1}]');
  await writeFile(join(dir, 'configs', 'p.yaml'), `operator_paths: [../ops]
datasets: {tbl: {path: data/t.json}}
pipeline:
  name: p
  item_type: sku_id
  initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}
  operations: [Good, X, Y, Z, tbl]
`);
  // Run from /: validate shows paths relative to the current directory when they share a folder below /
  // with it, so from a clone under /tmp (where the temp dir is too) they would read ../airmail-opfile-X/...
  const r = await airmailCliIn('/', {}, 'validate', join(dir, 'configs'));
  code = r.code;
  lines = r.stderr.split('\n').map((l) => l.replaceAll(dir, '<dir>'));
}, 60_000);

const line = (prefix: string): string => lines.find((l) => l.startsWith(prefix)) ?? `(no line starts with ${prefix} in:\n${lines.join('\n')})`;
const SUFFIX = ` (a file of operator_paths '../ops' in <dir>/configs/p.yaml) [CONFIG_INVALID]`;

describe('a broken custom operator file', () => {
  it('is refused, and not as an unexpected crash', () => {
    expect(code).toBe(1);
    expect(lines.join('\n')).not.toContain('please report it');
  });

  it('a JS syntax error names the file and line', () => {
    expect(line('<dir>/ops/x.js')).toBe(`<dir>/ops/x.js:3:61: operator file x.js failed to load: SyntaxError: Expected identifier but found ","${SUFFIX}`);
  });

  it('a TypeScript syntax error and a throw at import name the line', () => {
    expect(line('<dir>/ops/a.ts')).toBe(`<dir>/ops/a.ts:2:19: operator file a.ts failed to load: SyntaxError: Unexpected ";"${SUFFIX}`);
    expect(line('<dir>/ops/b.js')).toBe(`<dir>/ops/b.js:4:7: operator file b.js failed to load: no config for me${SUFFIX}`);
  });

  it('an import of a package that is not installed names the importing line', () => {
    expect(line('<dir>/ops/c.js')).toMatch(/^<dir>\/ops\/c\.js:2:18: operator file c\.js failed to load: Cannot find package 'surely-not-installed-pkg' imported from /);
  });

  it('a parameters schema that is no JSON Schema names the export and what is wrong', () => {
    expect(line('<dir>/ops/y.js')).toBe(`<dir>/ops/y.js: export 'y' (operator 'Y') of y.js is not a usable operator definition: 'parameters' is not a valid JSON Schema: at /properties/n/type: "int" is not one of "array", "boolean", "integer", "null", "number", "object", "string"; at /type: "objekt" is not one of "array", "boolean", "integer", "null", "number", "object", "string"${SUFFIX}`);
  });

  it('an export with a misspelt kind or no run is reported, not skipped; other objects are left alone', () => {
    const z = lines.filter((l) => l.startsWith('<dir>/ops/z.js'));
    expect(z).toEqual([
      `<dir>/ops/z.js: export 'w' (operator 'W') of z.js is not a usable operator definition: 'run' must be a function, not missing${SUFFIX}`,
      `<dir>/ops/z.js: export 'z' (operator 'Z') of z.js is not a usable operator definition: 'kind' must be one of 'source', 'filter', 'score', 'transform', not "filtre"${SUFFIX}`,
    ]);
  });

  it('the sound file of the folder still loads, and a step naming a broken one points at the broken files', () => {
    const unknown = lines.filter((l) => l.includes('[UNKNOWN_OPERATOR]'));
    expect(unknown.map((l) => /'(\w+)' is neither/.exec(l)?.[1])).toEqual(['X', 'Y', 'Z', 'tbl']);
    expect(unknown[0]).toContain('(it may be defined in <dir>/ops/a.ts, <dir>/ops/b.js, <dir>/ops/c.js, <dir>/ops/x.js, <dir>/ops/y.js, <dir>/ops/z.js, which failed to load: see that error)');
    // A dataset's name used as a step is no operator a broken file could define: no such hint there.
    expect(unknown[3]).toContain("it is a dataset: read it with {name: Lookup, parameters: {dataset: tbl}}");
    expect(unknown[3]).not.toContain('may be defined in');
  });
});
