/**
 * Issue: a retailer's configs directory of 200 pipelines served round-robin took 300-700 ms a
 * request. Each worker kept only 64 pipeline versions, so every request past the 64th reloaded its
 * pipeline; and each load copied the text columns of every dataset of the directory into the worker
 * again (a 1M-row column of ids is a million strings), although the worker already held them.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigSet } from '../engine/config/load.js';
import { PoolRunner } from '../engine/pool.js';
import { builtinOperators } from '../operators/index.js';

const N = 100;
let pool: PoolRunner | undefined;
afterAll(async () => pool?.close());

describe('a pool serving many pipelines', () => {
  it('loads each pipeline once per worker and sends each dataset once, however many pipelines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airmail-many-'));
    await writeFile(join(dir, 'items.json'), JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ id: i + 1, tag: `t${i}` }))));
    await writeFile(join(dir, 'other.json'), JSON.stringify([{ k: 'a' }]));
    let text = 'datasets:\n  items: {path: items.json, key: id}\n  other: {path: other.json}\npipelines:\n';
    for (let i = 0; i < N; i++) text += `- {name: p${i}, item_type: id, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}, operations: [{name: Limit, parameters: {n: ${(i % 5) + 1}}}]}\n`;
    const r = await loadConfigSet([{ path: join(dir, 'p.yaml'), text }], { operators: new Map(builtinOperators.map((d) => [d.name, d])) });
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const snap = r.snapshot;
    pool = new PoolRunner({ threads: 1, operatorModules: [new URL('../operators/index.ts', import.meta.url).href] });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < N; i++) {
        const out = await pool.run({ pipeline: snap.pipelines.get(`p${i}`)!, snapshot: snap, inputs: {} });
        expect(out.length).toBe((i % 5) + 1);
      }
    }
    // One worker: each of the 100 versions loaded once (the second round finds them all), and the
    // two datasets' handles sent with the first load only.
    expect(pool.loadsSent).toBe(N);
    expect(pool.handlesSent).toBe(2);
  });
});
