/**
 * Found by a soak (POST /execute with a new pipeline name per request while a job rewrote a
 * dataset): each worker kept every pipeline version it had run, up to 1024, and each version its
 * snapshot's tables, so the tables of every earlier dataset version stayed in the workers (shared
 * memory the main thread had released) until 1024 newer versions pushed them out. A worker now
 * drops a version of another name once a newer version brings a newer table of one of its datasets.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigSet } from '../engine/config/load.js';
import type { Snapshot } from '../engine/config/load.js';
import { PoolRunner } from '../engine/pool.js';
import type { ExecReply, ExecTask } from '../engine/wire.js';
import { builtinOperators } from '../operators/index.js';

const operators = new Map(builtinOperators.map((d) => [d.name, d]));
let pool: PoolRunner | undefined;
afterAll(async () => pool?.close());

/** Generation k of the configs: the items dataset rewritten (rows differ), and a pipeline named for k. */
async function generation(dir: string, k: number): Promise<Snapshot> {
  const rows = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, w: k * 100 + i }));
  const text = `datasets:\n  items: {path: items.json, key: id}\n  other: {path: other.json}\npipelines:\n- {name: ex${k}, item_type: id, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}, operations: [{name: Limit, parameters: {n: 3}}]}\n`;
  await writeFile(join(dir, 'items.json'), JSON.stringify(rows));
  await writeFile(join(dir, 'other.json'), '[{"k": "a"}]');
  const r = await loadConfigSet([{ path: join(dir, 'p.yaml'), text }], { operators });
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.snapshot;
}

describe('a worker after many dataset versions', () => {
  it('holds the tables of the current one, not of every version a pipeline it ran was built on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airmail-old-tables-'));
    pool = new PoolRunner({ threads: 1, operatorModules: [new URL('../operators/index.ts', import.meta.url).href] });
    const GENERATIONS = 30;
    let snap: Snapshot | undefined;
    for (let k = 0; k < GENERATIONS; k++) {
      snap = await generation(dir, k);
      const out = await pool.run({ pipeline: snap.pipelines.get(`ex${k}`)!, snapshot: snap, inputs: {} });
      expect(out.length).toBe(3);
    }
    // What the worker holds, as it answers a version it has not loaded: the ids of its tables.
    const p = snap!.pipelines.get(`ex${GENERATIONS - 1}`)!;
    const inner = pool as unknown as { submit(t: ExecTask, s: undefined, admitted: boolean, p: unknown, g: unknown): Promise<ExecReply>; group(p: unknown, x: boolean): unknown };
    const reply = await inner.submit({ version: 'not-loaded', inputs: {} }, undefined, false, p, inner.group(p, false));
    expect(reply.kind).toBe('need');
    const held = reply.kind === 'need' ? reply.has ?? [] : [];
    // The unchanged dataset once, and the items table of the current generation only.
    expect(held.filter((id) => id.startsWith('other:'))).toHaveLength(1);
    expect(held.filter((id) => id.startsWith('items:'))).toHaveLength(1);
    // The current version still answers without a reload.
    const sent = pool.loadsSent;
    expect((await pool.run({ pipeline: p, snapshot: snap!, inputs: {} })).length).toBe(3);
    expect(pool.loadsSent).toBe(sent);
  });
});
