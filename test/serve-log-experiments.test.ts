/**
 * `serve`'s start line named the pipelines only ("serving 3 pipeline(s) [...]"): an operator who
 * loaded an A/B experiment could not see from the log that it was served. It names them now.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

it('the start line names the experiments, in text and as a field', async () => {
  const dir = await tempDir('airmail-serve-log-');
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1 }, { sku: 2 }]));
  await writeFile(join(dir, 'p.yaml'), `datasets: {items: {path: items.json}}
pipelines:
- {name: feed_a, item_type: sku, inputs: {u: {type: integer, default: 0}}, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}
- {name: feed_b, item_type: sku, inputs: {u: {type: integer, default: 0}}, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}
experiments:
- {name: feed, unit: $u, arms: [{pipeline: feed_a, weight: 1}, {pipeline: feed_b, weight: 1}]}
`);
  const child = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'serve', '--configs', dir, '--port', '0', '--threads', '1'], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1', NODE_ENV: 'production', AIRMAIL_LOG_LEVEL: 'info' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  const deadline = Date.now() + 20_000;
  while (!out.includes('airmail serving') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGTERM');
  await exited;
  const line = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l['msg']).startsWith('airmail serving'));
  expect(line?.['msg']).toMatch(/^airmail serving 2 pipeline\(s\) \[feed_a, feed_b\] and 1 experiment\(s\) \[feed\] from /);
  expect(line?.['experiments']).toEqual(['feed']);
}, 30_000);
