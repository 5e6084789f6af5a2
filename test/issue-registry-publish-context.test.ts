/**
 * Regression: publishing from a folder with no package-lock.json and no git checkout recorded
 * `packages: {}` and no commit without a word, and a js envelope bundled from a .ts file recorded
 * language "javascript". The publisher is now told what the context could not record (and what it
 * did record), and a TypeScript module is recorded as language "typescript".
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';

let dir: string;
let store: RegistryStore;
beforeAll(async () => {
  dir = await tempDir('airmail-publish-context-');
  store = await RegistryStore.open(join(dir, 'registry'), { create: true });
  await writeFile(join(dir, 'm.ts'), 'export function predict(c: { x: Float64Array }, n: number): { y: Float64Array } { return { y: Float64Array.from(c.x, (x) => x * 2) }; }\n');
  await writeFile(join(dir, 'm.mjs'), 'export function predict(c, n) { return { y: Float64Array.from(c.x, (x) => x * 2) }; }\n');
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('the context publish records', () => {
  it('says so when there is no package-lock.json or git checkout to record', async () => {
    const warnings: string[] = [];
    const e = await publishModel({ artifact: join(dir, 'm.mjs'), flavor: 'js', name: 'm', description: 'd', sample: [{ x: 1 }], cwd: dir, onWarning: (m) => warnings.push(m) }, store);
    expect(e.context.packages).toEqual({});
    expect(e.context.gitCommit).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`no package versions (packages: {}; there is no package-lock.json in ${dir} or a folder above it`);
    expect(warnings[0]).toContain(`no git commit (${dir} is not in a git checkout)`);
    expect(warnings[0]).toContain('language javascript');
  });

  it('is quiet where the project has a lockfile and a commit', async () => {
    const warnings: string[] = [];
    const e = await publishModel({ artifact: join(dir, 'm.mjs'), flavor: 'js', name: 'm', description: 'd', sample: [{ x: 1 }], packages: ['ajv'], onWarning: (m) => warnings.push(m) }, store);
    expect(Object.keys(e.context.packages)).toContain('ajv');
    expect(warnings).toEqual([]);
  });

  it('records a js module bundled from TypeScript as typescript', async () => {
    const e = await publishModel({ artifact: join(dir, 'm.ts'), flavor: 'js', name: 't', description: 'd', sample: [{ x: 1 }], cwd: dir, onWarning: () => undefined }, store);
    expect(e.context.language).toBe('typescript');
    const js = await publishModel({ artifact: join(dir, 'm.mjs'), flavor: 'js', name: 'j', description: 'd', sample: [{ x: 1 }], cwd: dir, onWarning: () => undefined }, store);
    expect(js.context.language).toBe('javascript');
  });
});
