/**
 * The README's custom-operator example, followed as a new user would: its code block written into a
 * folder of its own outside the repo (no package.json, no install), named by `operator_paths:`, and
 * run through the real `airmail` command: `run` (main thread) and `serve` (the worker pool).
 * What broke: 'airmail/engine/api.js' did not resolve ("Cannot find package 'airmail'"), and a .ts
 * file without a package.json failed with ERR_REQUIRE_CYCLE_MODULE.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

const exec = promisify(execFile);
const BIN = join(ROOT, 'bin/airmail.mjs');
const ENV = { ...process.env, AIRMAIL_FROM_SOURCE: '1' };

/** The ```ts block that follows "**Custom operators.**" in the README. */
async function readmeOperator(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('**Custom operators.**');
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !m) throw new Error('README: no custom operator example');
  return m[1]!;
}

/** A user's folder outside the repo: my-operators/ (the README's file, with either extension) and configs/. */
async function userFolder(ext: 'ts' | 'js'): Promise<string> {
  const home = await tempDir('airmail-user-');
  let code = await readmeOperator();
  expect(code).toContain("from 'airmail/engine/api.js'");
  // The README's example is TypeScript; as plain JavaScript, drop its type annotations.
  if (ext === 'js') code = code.replace('defineOperator<{ min: number }>', 'defineOperator').replace(' as Int32Array', '').replace('u[r]!', 'u[r]');
  await mkdir(join(home, 'my-operators'));
  await writeFile(join(home, 'my-operators', `in-stock.${ext}`), code);
  await mkdir(join(home, 'configs'));
  await writeFile(join(home, 'configs/items.json'), JSON.stringify([{ sku: 1, units: 0 }, { sku: 2, units: 4 }, { sku: 3, units: 9 }]));
  await writeFile(join(home, 'configs/shop.yaml'), [
    'operator_paths: [../my-operators]',
    'datasets:',
    '  items: {path: items.json, key: sku}',
    'pipeline:',
    '  name: shop',
    '  item_type: sku',
    '  initialization: {includes: [{name: Static, parameters: {items: [1, 2, 3]}}]}',
    '  operations:',
    '  - {name: InStock, parameters: {min: $min}}',
    '  return: [sku, units]',
    '',
  ].join('\n'));
  return home;
}

async function airmailRun(home: string): Promise<unknown> {
  const { stdout } = await exec(process.execPath, [BIN, 'run', 'shop', '--configs', join(home, 'configs'), '--input', 'min=4'], { cwd: home, env: ENV });
  return JSON.parse(stdout);
}

/** `airmail serve` on any free port, every request on a worker; the answer to one POST. */
async function airmailServe(home: string): Promise<{ status: number; body: unknown }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--configs', join(home, 'configs'), '--port', '0', '--host', '127.0.0.1', '--threads', '1', '--inline-under-ms', '0'], {
    cwd: home, env: ENV, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  try {
    const port = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`airmail serve exited with ${code}: ${out}`)));
      child.stdout.on('data', () => {
        const m = /on http:\/\/localhost:(\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
    });
    const res = await request(`http://127.0.0.1:${port}/pipelines/shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"min": 4}' });
    return { status: res.statusCode, body: await res.body.json() };
  } finally {
    child.kill('SIGTERM');
  }
}

describe('the README custom operator, in a folder outside the repo', () => {
  it('loads a .ts file with no package.json, importing airmail/engine/api.js: airmail run and airmail serve', async () => {
    const home = await userFolder('ts');
    expect(await airmailRun(home)).toMatchObject({ error: false, pipeline: 'shop', items: [{ sku: 2, units: 4 }, { sku: 3, units: 9 }] });
    const served = await airmailServe(home);
    expect(served.status, JSON.stringify(served.body)).toBe(200);
    expect(served.body).toMatchObject({ items: [{ sku: 2, units: 4 }, { sku: 3, units: 9 }] });
  });

  it('loads the same operator written as a .js file', async () => {
    const home = await userFolder('js');
    expect(await airmailRun(home)).toMatchObject({ error: false, items: [{ sku: 2 }, { sku: 3 }] });
  });
});
