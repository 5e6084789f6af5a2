import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigSet, importOperatorModule, type Snapshot } from './config/load.js';
import { InlineRunner, PoolRunner } from './pool.js';
import { AirmailError } from './errors.js';

const OPS_URL = new URL('../test/fixtures/operators/test-ops.ts', import.meta.url).href;
let snap: Snapshot;
let pool: PoolRunner;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'airmail-pool-'));
  await writeFile(join(dir, 'items.json'), JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ id: i + 1, color: i % 2 ? 'red' : 'blue', w: (i * 7) % 11 }))));
  const text = `datasets:
  items: {path: items.json, key: id}
pipelines:
- name: ok
  item_type: id
  initialization:
    includes: [{name: Ids, parameters: {ids: [1, 2, 3, 4, 5, 6, 7, 8]}}]
    scores: [{name: Col, parameters: {column: w}}]
  operations: [{name: Eq, parameters: {column: color, value: $color}}]
  return: [id, score, color]
- name: boom
  item_type: id
  initialization:
    includes: [{name: Ids, parameters: {ids: [1, 2]}}]
  operations: [{name: Trouble, parameters: {mode: throw}}]
- name: slow
  item_type: id
  initialization:
    includes: [{name: Ids, parameters: {ids: [1, 2]}}]
  operations: [{name: Trouble, parameters: {mode: sleep, ms: 300}}]
- name: nap
  item_type: id
  initialization:
    includes: [{name: Ids, parameters: {ids: [1, 2]}}]
  operations: [{name: Trouble, parameters: {mode: sleep, ms: 2}}]
- name: slow2
  item_type: id
  initialization:
    includes: [{name: Ids, parameters: {ids: [1, 2]}}]
  operations: [{name: Trouble, parameters: {mode: sleep, ms: 200}}, {name: Trouble, parameters: {mode: sleep, ms: 200}}]
`;
  const ops = new Map((await importOperatorModule(OPS_URL)).map((d) => [d.name, d]));
  const r = await loadConfigSet([{ path: join(dir, 'p.yaml'), text }], { operators: ops });
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  snap = r.snapshot;
  pool = new PoolRunner({ threads: 2, operatorModules: [OPS_URL], maxQueue: 4 });
});
afterAll(async () => pool?.close());

describe('PoolRunner', () => {
  it('runs on workers with the same result as inline, datasets shared not copied', async () => {
    const p = snap.pipelines.get('ok')!;
    const inline = await new InlineRunner().run({ pipeline: p, snapshot: snap, inputs: { color: 'red' } });
    const pooled = await pool.run({ pipeline: p, snapshot: snap, inputs: { color: 'red' } });
    expect(pooled.length).toBe(4);
    expect(Array.from(pooled.columns['id'] as Int32Array)).toEqual(Array.from(inline.columns['id'] as Int32Array));
    expect(Array.from(pooled.columns['score'] as Float64Array)).toEqual(Array.from(inline.columns['score'] as Float64Array));
    // Dataset columns live in shared memory, so workers map the same bytes.
    const w = snap.datasets.get('items')!.column('w') as Float64Array | Int32Array;
    expect(w.buffer).toBeInstanceOf(SharedArrayBuffer);
    // Every worker gets the plan once, then runs from its cache.
    for (let i = 0; i < 20; i++) await pool.run({ pipeline: p, snapshot: snap, inputs: { color: 'blue' } });
  });

  it('starts workers with a small young generation (memory under load) and the old-generation cap', async () => {
    await pool.run({ pipeline: snap.pipelines.get('ok')!, snapshot: snap, inputs: { color: 'red' } });
    const threads = (pool as unknown as { pool: { threads: { resourceLimits?: { maxYoungGenerationSizeMb?: number; maxOldGenerationSizeMb?: number } }[] } }).pool.threads;
    expect(threads.length).toBeGreaterThan(0);
    for (const t of threads) expect(t.resourceLimits).toMatchObject({ maxYoungGenerationSizeMb: 12, maxOldGenerationSizeMb: 1024 });
  });

  it('keeps the main thread\'s share of a hand-off small: no histograms per task, no URL parsed per task, run times sorted once per run', async () => {
    // The main thread runs every request's HTTP and hand-off; on many cores it is the server's ceiling (README, Performance).
    const options = (pool as unknown as { pool: { options: { recordTiming?: boolean; filename?: string } } }).pool.options;
    expect(options).toMatchObject({ recordTiming: false });
    expect(options.filename).not.toMatch(/^file:/); // piscina parses a file URL at every task
    const p = snap.pipelines.get('ok')!;
    await pool.run({ pipeline: p, snapshot: snap, inputs: { color: 'red' } });
    // Asked twice per request (the early shed, the submit): the same answer until another run is noted.
    const first = pool.execTime(p);
    expect(pool.execTime(p)).toBe(first);
    await pool.run({ pipeline: p, snapshot: snap, inputs: { color: 'red' } });
    const next = pool.execTime(p);
    expect(next).not.toBe(first);
    expect(next!.runs).toBe(first!.runs + 1);
  });

  it('brings errors back with their code and operator', async () => {
    const err = await pool.run({ pipeline: snap.pipelines.get('boom')!, snapshot: snap, inputs: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirmailError);
    expect(err).toMatchObject({ code: 'MODEL_FAILED', operator: 'Trouble' });
  });

  it('rejects work beyond the bounded queue as OVERLOADED instead of queueing it', async () => {
    const p = snap.pipelines.get('slow')!;
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => pool.run({ pipeline: p, snapshot: snap, inputs: {} })));
    const overloaded = results.filter((r) => r.status === 'rejected' && (r.reason as AirmailError).code === 'OVERLOADED');
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(overloaded.length).toBeGreaterThan(0);
    expect(ok.length).toBeGreaterThanOrEqual(2);
    // Refusals are made on every request under load: no stack trace is captured for them.
    for (const r of overloaded) expect((r as PromiseRejectedResult).reason.stack).not.toMatch(/\n\s+at /);
    // The pool recovers: a later request succeeds.
    await expect(pool.run({ pipeline: snap.pipelines.get('ok')!, snapshot: snap, inputs: { color: 'red' } })).resolves.toMatchObject({ length: 4 });
  });

  it('stops a request at its deadline', async () => {
    const err = await pool.run({ pipeline: snap.pipelines.get('slow2')!, snapshot: snap, inputs: {}, deadline: Date.now() + 50 }).catch((e: unknown) => e);
    // The first step outlives the deadline; the executor refuses to start the second.
    expect(err).toMatchObject({ code: 'DEADLINE_EXCEEDED', operator: 'Trouble' });
  });
});

describe('PoolRunner order', () => {
  it('runs queued requests first come, first served', async () => {
    // Piscina's own queue moves the next task to the tail each time a worker frees up (tasks with a
    // signal, as every request with a deadline has): on one worker, 0, 1, 3, 5, ... then the rest.
    const one = new PoolRunner({ threads: 1, operatorModules: [OPS_URL] });
    try {
      const p = snap.pipelines.get('nap')!;
      const run = (): Promise<unknown> => one.run({ pipeline: p, snapshot: snap, inputs: {}, deadline: Date.now() + 30_000 });
      for (let i = 0; i < 3; i++) await run();
      const order: number[] = [];
      await Promise.all(Array.from({ length: 12 }, (_, i) => run().then(() => void order.push(i))));
      expect(order).toEqual(Array.from({ length: 12 }, (_, i) => i));
    } finally {
      await one.close();
    }
  });
});

describe('PoolRunner admission', () => {
  it('counts a busy main thread in what a queued task costs: the pace of completions, not the workers\' own timings', async () => {
    const small = new PoolRunner({ threads: 1, operatorModules: [OPS_URL], maxQueue: 200, maxQueueWaitMs: 250 });
    try {
      const p = snap.pipelines.get('nap')!;
      const run = (): Promise<unknown> => small.run({ pipeline: p, snapshot: snap, inputs: {} });
      for (let i = 0; i < 12; i++) await run(); // the worker takes about 2 ms a task
      // Sixty at once (let in: 60 × 2-3 ms is under the 250 ms limit), and after each answer the main
      // thread is busy for 10 ms (wall time, so a busy machine does not shorten it): the worker gets
      // its next task at once but its answer waits, so each task costs the pool 10 ms or more. After
      // twenty answers forty wait: some 400 ms ahead, over the limit. By the workers' own timings
      // it is some 100-120 ms, and nothing is shed.
      let done = 0;
      let shedAt20: ReturnType<PoolRunner['shedding']>;
      const all = Array.from({ length: 60 }, () =>
        run().then(() => {
          const t = performance.now();
          while (performance.now() - t < 10);
          if (++done === 20) shedAt20 = small.shedding();
        }),
      );
      await Promise.all(all);
      expect(shedAt20?.code).toBe('OVERLOADED');
      expect(small.shedding()).toBeUndefined(); // the queue is empty again
    } finally {
      await small.close();
    }
  });
});
