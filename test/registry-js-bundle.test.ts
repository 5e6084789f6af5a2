/**
 * Regression (TypeScript and multi-file js models): `--flavor js` with a .ts file failed with
 * "Unexpected strict mode reserved word", and a module importing ./helper.mjs failed with an error
 * quoting the whole module as base64. `airmail publish` now bundles the file (types stripped,
 * relative imports inlined); bytes sent without their files are refused saying what is supported.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { loadFunction } from '../engine/registry/function.js';
import { RegistryClient } from '../registry-client/client.js';

let dir: string;
let reg: RunningRegistry;
beforeAll(async () => {
  dir = await tempDir('airmail-js-bundle-');
  reg = await startRegistry();
  await writeFile(join(dir, 'jsmodel.ts'), `interface Cols { x: Float64Array }
export function predict(c: Cols, rows: number): { y: Float64Array } {
  const scale: number = 3;
  return { y: Float64Array.from(c.x, (v) => v * scale) };
}\n`);
  await writeFile(join(dir, 'helper.mjs'), 'export const offset = 100;\n');
  await writeFile(join(dir, 'main.mjs'), "import { offset } from './helper.mjs';\nexport function predict(c) { return { y: Float64Array.from(c.x, (v) => v + offset) }; }\n");
  await writeFile(join(dir, 'sample.json'), JSON.stringify([{ x: 1 }, { x: 2 }]));
});
afterAll(async () => {
  await reg.close();
  await rm(dir, { recursive: true, force: true });
});

async function publish(file: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await registryCli(['publish', '--artifact', join(dir, file), '--flavor', 'js', '--name', file.replace(/\W/g, '-'), '--description', 'x', '--sample', join(dir, 'sample.json'), '--registry', reg.url], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('js modules that are TypeScript or span several files', () => {
  it.each([['jsmodel.ts', [3, 6]], ['main.mjs', [101, 102]]] as const)('airmail publish bundles %s into one module that serves', async (file, want) => {
    const r = await publish(file);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const { name, version } = JSON.parse(r.out[0]!) as { name: string; version: number };
    const env = await reg.store.get(name, version);
    expect(env.function.artifact.filename).toBe(file.replace(/\.\w+$/, '.mjs'));
    const fn = await loadFunction(env, await reg.store.readArtifact(env.function.artifact.sha256));
    try {
      expect(Array.from((await fn.predict({ x: Float64Array.of(1, 2) }, 2))['y'] as Float64Array)).toEqual(want);
    } finally {
      await fn.close();
    }
  });

  it('refuses bytes sent without their files, saying what is supported and quoting no base64', async () => {
    const client = new RegistryClient({ url: reg.url, cacheDir: join(dir, 'cache') });
    try {
      const importing = client.publish({ artifact: new TextEncoder().encode("import { offset } from './helper.mjs';\nexport function predict(c) { return { y: c.x }; }"), filename: 'main.mjs', flavor: 'js', name: 'raw', description: 'x', sample: [{ x: 1 }] });
      await expect(importing).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: expect.stringMatching(/main\.mjs imports '\.\/helper\.mjs', but a js artifact must be one self-contained ES module/) });
      const ts = client.publish({ artifact: new TextEncoder().encode('export function predict(c: { x: number[] }): { y: number[] } { return { y: c.x }; }'), filename: 'artifact', flavor: 'js', name: 'raw', description: 'x', sample: [{ x: 1 }] });
      const err = (await ts.catch((e: Error) => e)) as Error & { code: string };
      expect(err.code).toBe('MODEL_LOAD_FAILED');
      expect(err.message).toMatch(/is TypeScript/);
      expect(err.message).not.toMatch(/base64/);
    } finally {
      await client.close();
    }
  });
});
