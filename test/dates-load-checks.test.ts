/**
 * Time windows and features that can never work, found at load instead of answering nothing (or
 * nonsense) on every request:
 * - a window whose min comes after its max at every now (`min: now-7d, max: now-30d`, or two
 *   instants the wrong way round in a `where` window) selected nothing, ever, and loaded fine;
 * - a `$context` timestamp column fed to a ModelScore feature reached the model as epoch ms, where
 *   a dataset timestamp column there was refused.
 */
import { execFile } from 'node:child_process';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { alwaysAfter, parseTimeBound } from '../engine/time.js';
import { ROOT, tempDir } from './helpers.js';

const exec = promisify(execFile);
const BIN = join(ROOT, 'bin/airmail.mjs');

async function validate(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('airmail-dates-load-');
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  await copyFile(join(ROOT, 'configs/models/psale_demo.onnx'), join(dir, 'psale.onnx'));
  try {
    await exec(process.execPath, [BIN, 'validate', dir], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } });
    return 'ok';
  } catch (err) {
    return (err as { stdout: string }).stdout + (err as { stderr: string }).stderr;
  }
}

describe('a window whose min comes after its max', () => {
  it('is after at every now only when both bounds are instants, or both relative and ordered whatever the now', () => {
    const after = (a: string, b: string): boolean => alwaysAfter(parseTimeBound(a)!, parseTimeBound(b)!);
    expect(after('now-7d', 'now-30d')).toBe(true);
    expect(after('now-30d', 'now-7d')).toBe(false);
    expect(after('now-1d', 'now-1d')).toBe(false);
    expect(after('now/d', 'now-1d')).toBe(true); // midnight today is after this time yesterday
    expect(after('now-1d/d', 'now-1d')).toBe(false); // rounded down: never after
    expect(after('now/w', 'now-2d')).toBe(false); // Monday may be before or after two days ago
    expect(after('2024-10-01', '2024-09-01')).toBe(true);
    expect(after('2024-10-01', 'now-30d')).toBe(false); // depends on the now
  });

  it('is a load error naming the step and both bounds, in a where window and a Range', async () => {
    const out = await validate({
      'c.csv': 'sku,launched_on\n1,2024-09-01\n',
      'p.csv': 'client_id,sku,purchased_at\n7,1,2024-09-30T10:00:00Z\n',
      'a.yaml': `
datasets:
  catalog: {path: c.csv, key: sku, columns: {launched_on: date}}
  purchases: {path: p.csv, columns: {purchased_at: timestamp}}
operators:
  BoughtLately: {use: Lookup, parameters: {dataset: purchases, column: sku, where: {client_id: $client_id, purchased_at: {min: now-7d, max: now-30d}}}}
pipelines:
- name: wrong
  item_type: sku
  initialization: {includes: [BoughtLately, {name: Lookup, parameters: {dataset: purchases, column: sku, where: {purchased_at: {min: '2024-10-01', max: '2024-09-01'}}}}]}
  operations:
  - {name: Range, parameters: {column: launched_on, min: now/d, max: now-1d}}
- name: fine
  item_type: sku
  initialization: {includes: [{name: Lookup, parameters: {dataset: purchases, column: sku, where: {purchased_at: {min: now-30d, max: now-7d}}}}]}
  operations:
  - {name: Range, parameters: {column: launched_on, min: now-1d/d, max: now-1d}}
  - {name: Range, parameters: {column: launched_on, min: '2024-10-01', max: now-1d}}
`,
    });
    expect(out).not.toMatch(/pipeline 'fine'/);
    expect(out).toMatch(/BoughtLately \(Lookup\): min of where\.purchased_at \(now-7d\) comes after max \(now-30d\) at every now: the window is empty and no row can ever pass; swap them \(at \/pipelines\/0\/initialization\/includes\/0\/parameters\/where\/purchased_at\/min\) \[BAD_PARAMETER\]/);
    expect(out).toMatch(/pipeline 'wrong': Lookup: min of where\.purchased_at \(2024-10-01\) comes after max \(2024-09-01\): the window is empty.*\/includes\/1\/parameters\/where\/purchased_at\/min\) \[BAD_PARAMETER\]/);
    expect(out).toMatch(/pipeline 'wrong': Range: min \(now\/d\) comes after max \(now-1d\) at every now.*\/operations\/0\/parameters\/min\) \[BAD_PARAMETER\]/);
  });
});

describe('a context timestamp column as a ModelScore feature', () => {
  it('is refused at load, as a dataset timestamp column is', async () => {
    const f = ['price', ...Array.from({ length: 15 }, () => 'price'), '$client.signup_at', ...Array.from({ length: 7 }, () => '$client.visits')].join(', ');
    const out = await validate({
      'c.csv': 'sku,price\n1,10\n',
      'k.csv': 'client_id,signup_at,visits\n1,2024-09-25,3\n',
      'a.yaml': `
datasets:
  catalog: {path: c.csv, key: sku}
  clients: {path: k.csv, key: client_id, columns: {signup_at: timestamp}}
contexts: {client: {dataset: clients, key: $client_id}}
pipelines:
- {name: model, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: catalog}}], scores: [{name: ModelScore, parameters: {model: psale.onnx, features: [${f}]}}]}}
`,
    });
    expect(out).toMatch(/ModelScore: \$client\.signup_at is read as a number, but column 'signup_at' of dataset 'clients' holds timestamps: a time is not a model feature.*\/parameters\/features\/16\) \[BAD_PARAMETER\]/);
    expect(out).not.toMatch(/visits/);
  });
});
