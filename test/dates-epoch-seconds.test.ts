/**
 * A JSON `timestamp` column written in epoch SECONDS (1.7e9) read as January 1970, silently: a JSON
 * number is epoch milliseconds (README "Dataset files"). A column whose numbers all look like seconds
 * is now a DATASET_LOAD_FAILED that says so; milliseconds, small numbers and ISO text still load.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tableFromRows } from '../engine/dataset.js';
import { ROOT, tempDir } from './helpers.js';

const exec = promisify(execFile);
const at = (cells: unknown[]): Float64Array => tableFromRows('t', cells.map((v) => ({ at: v })), undefined, { at: 'timestamp' }).column('at') as Float64Array;

describe('a JSON timestamp column in epoch seconds', () => {
  it('is refused, naming the row and both readings; ms, small numbers, text and nulls still load', () => {
    expect(() => at([1727777000, null, 1727778000])).toThrow(/column 'at' is declared timestamp, and a JSON number there is epoch milliseconds, but these look like epoch seconds: multiply by 1000 or write ISO text \(row 1 holds 1727777000: 1970-01-20T23:56:17Z as ms, 2024-10-01T10:03:20Z as seconds\)/);
    expect(Array.from(at([1727777000000, 1727777000]))).toEqual([1727777000000, 1727777000]); // one ms value: it is ms
    expect(Array.from(at([0, 86400000]))).toEqual([0, 86400000]);
    expect(Array.from(at(['2024-10-01', 5]))).toEqual([Date.UTC(2024, 9, 1), 5]);
  });

  it('is a DATASET_LOAD_FAILED naming the file', async () => {
    const dir = await tempDir('airmail-epoch-s-');
    await writeFile(join(dir, 'p.json'), JSON.stringify([{ sku: 1, at: 1727777000 }, { sku: 2, at: 1727778000 }]));
    await writeFile(join(dir, 'a.yaml'), 'datasets:\n  purchases: {path: p.json, columns: {at: timestamp}}\n');
    const out = await exec(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'validate', dir], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } })
      .then(() => 'ok', (err: { stdout: string; stderr: string }) => err.stdout + err.stderr);
    expect(out).toMatch(/p\.json.*these look like epoch seconds: multiply by 1000 or write ISO text.*DATASET_LOAD_FAILED/);
  });
});
