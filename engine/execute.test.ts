import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AirmailError, defineOperator, equalsMask, valueAt, type OperatorDefinition, type RunContext } from './api.js';
import { loadConfigSet } from './config/load.js';
import { execute } from './execute.js';
import { executeObserved } from './observe/collect.js';
import { loadModel } from './onnx.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'airmail-exec-'));

// Engine tests use operators of their own: the engine must not depend on the built-ins.
const ids = defineOperator<{ ids: number[]; fail?: boolean }>({
  kind: 'source', name: 'Ids', summary: 'fixed ids',
  parameters: { type: 'object', required: ['ids'], properties: { ids: { type: 'array', items: { type: 'integer' } }, fail: { type: 'boolean' } } },
  run: (p) => {
    if (p.fail) throw new Error('upstream is down');
    return { ids: Int32Array.from(p.ids) };
  },
});
const eq = defineOperator<{ column: string; value: unknown }>({
  kind: 'filter', name: 'Eq', summary: 'equality',
  parameters: { type: 'object', required: ['column', 'value'], properties: { column: { type: 'string' }, value: {} } },
  reads: (p) => [p.column],
  run: (p, input) => {
    const ok = equalsMask(input.frame.column(p.column), [p.value as string]);
    return input.rows.filter((r) => ok(r));
  },
});
const col = defineOperator<{ column: string }>({
  kind: 'score', name: 'Col', summary: 'column as score',
  parameters: { type: 'object', required: ['column'], properties: { column: { type: 'string' } } },
  reads: (p) => [p.column],
  run: (p, input) => Float64Array.from(input.rows, (r) => Number(valueAt(input.frame.column(p.column), r))),
});
const top = defineOperator<{ by: string; n: number }>({
  kind: 'transform', name: 'Top', summary: 'sort desc and take n',
  parameters: { type: 'object', required: ['by'], properties: { by: { type: 'string' }, n: { type: 'integer', default: 3 } } },
  reads: (p) => [p.by],
  run: (p, input) => {
    const c = input.frame.column(p.by);
    const rows = Int32Array.from(input.rows).sort((a, b) => Number(valueAt(c, b)) - Number(valueAt(c, a)));
    return { rows: rows.subarray(0, p.n) };
  },
});
/** The contexts operators were handed, when `keep` is set. */
const contexts: { keep: boolean; seen: RunContext[] } = { keep: false, seen: [] };
const spy = defineOperator<Record<string, never>>({
  kind: 'source', name: 'Spy', summary: 'one id; keeps the context it was given',
  parameters: { type: 'object' },
  run: (_p, ctx) => {
    if (contexts.keep) contexts.seen.push(ctx);
    return { ids: Int32Array.of(1) };
  },
});
/** What each Ordered run was told by `input.upTo`. */
const told: (number | undefined)[] = [];
const ordered = defineOperator<{ by: string }>({
  kind: 'transform', name: 'Ordered', summary: 'sort desc; records input.upTo',
  parameters: { type: 'object', required: ['by'], properties: { by: { type: 'string' } } },
  reads: (p) => [p.by],
  run: (p, input) => {
    told.push(input.upTo);
    const c = input.frame.column(p.by);
    return { rows: Int32Array.from(input.rows).sort((a, b) => Number(valueAt(c, b)) - Number(valueAt(c, a))) };
  },
});
const first = defineOperator<{ n: number }>({
  kind: 'transform', name: 'First', summary: 'the first n rows',
  parameters: { type: 'object', required: ['n'], properties: { n: {} } },
  keepsFirst: (p) => Number(p.n),
  run: (p, input) => ({ rows: input.rows.slice(0, Number(p.n)) }),
});
const OPS = new Map<string, OperatorDefinition>([ids, eq, col, top, spy, ordered, first].map((d) => [d.name, d as OperatorDefinition]));

async function compile(yaml: string): Promise<Awaited<ReturnType<typeof loadConfigSet>>> {
  const dir = await tempDir();
  await writeFile(join(dir, 'items.json'), JSON.stringify([
    { id: 1, color: 'red', w: 0.5 }, { id: 2, color: 'blue', w: 0.9 }, { id: 3, color: 'red', w: 0.7 },
    { id: 4, color: 'red', w: 0.1 }, { id: 5, color: 'blue', w: 0.3 }, { id: 6, color: 'red', w: 0.8 },
  ]));
  await writeFile(join(dir, 'users.json'), JSON.stringify([{ uid: 7, fav: 'red' }, { uid: 8, fav: 'blue' }]));
  const path = join(dir, 'p.yaml');
  return loadConfigSet([{ path, text: `datasets:\n  items: {path: items.json, key: id}\n  users: {path: users.json, key: uid}\n${yaml}` }], { operators: OPS });
}

const env = (snap: { datasets: ReadonlyMap<string, import('./api.js').Dataset> }) => ({ datasets: snap.datasets, operators: OPS, model: loadModel });

describe('execute', () => {
  it('unions includes, subtracts excludes, sums weighted scores, applies operations', async () => {
    const r = await compile(`pipeline:
  name: p
  item_type: id
  context: {user: {dataset: users, key: $uid}}
  initialization:
    includes: [{name: Ids, parameters: {ids: [1, 2, 3]}}, {name: Ids, parameters: {ids: [3, 4, 5, 6]}}]
    excludes: [{name: Ids, parameters: {ids: [4]}}]
    scores: [{name: Col, as: a, parameters: {column: w}}, {name: Col, as: b, weight: 2, parameters: {column: w}}]
  operations:
  - {name: Eq, parameters: {column: color, value: $user.fav}}
  - {name: Top, parameters: {by: score}}
  return: [id, score, color]
`);
    expect(r.ok, JSON.stringify(r.diagnostics)).toBe(true);
    if (!r.ok) return;
    const p = r.snapshot.pipelines.get('p')!;
    expect(p.inputSchema).toMatchObject({ properties: { uid: { type: 'integer' } }, required: ['uid'] });
    // Eq reads no score: the planner moves it before the scorers.
    expect(p.plan.pre.map((s) => s.use)).toEqual(['Eq']);
    const out = await execute(p.plan, env(r.snapshot), { uid: 7 });
    expect(out.error).toBe(false);
    expect(Array.from(out.columns['id'] as Int32Array)).toEqual([6, 3, 1]);
    expect(Array.from(out.columns['score'] as Float64Array).map((x) => Math.round(x * 1000) / 1000)).toEqual([2.4, 2.1, 1.5]);
    expect(valueAt(out.columns['color']!, 0)).toBe('red');
  });

  it('tells a step that only the first n rows are used when the next keeps the first n (issue 4: Sort then Limit), never on debug runs', async () => {
    const r = await compile(`pipeline:
  name: p
  item_type: id
  initialization:
    includes: [{name: Ids, parameters: {ids: [1, 2, 3, 4, 5, 6]}}]
  operations:
  - {name: Ordered, parameters: {by: w}}
  - {name: First, parameters: {n: $n}}
  - {name: Ordered, parameters: {by: w}}
  return: [id]
`);
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const plan = r.snapshot.pipelines.get('p')!.plan;
    told.length = 0;
    const out = await execute(plan, env(r.snapshot), { n: 2 });
    expect(Array.from(out.columns['id'] as Int32Array)).toEqual([2, 6]);
    expect(told).toEqual([2, undefined]);
    told.length = 0;
    const traced = await execute(plan, env(r.snapshot), { n: 2 }, { trace: true });
    expect(told).toEqual([undefined, undefined]);
    expect(traced.steps.map((s) => s.rowsOut)).toEqual([6, 6, 2, 2]);
    told.length = 0;
    await execute(plan, env(r.snapshot), { n: 0 });
    expect(told).toEqual([undefined]); // a Limit of 0 empties the answer itself, and says so
    // Metrics are on by default in a server: they do not turn it off; a recorded trace does.
    told.length = 0;
    const metered = await executeObserved({ ops: 1 }, plan, env(r.snapshot), { n: 2 }, {});
    expect(told).toEqual([2, undefined]);
    expect(Array.from(metered.columns['id'] as Int32Array)).toEqual([2, 6]);
    told.length = 0;
    await executeObserved({ ops: 1, span: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true } }, plan, env(r.snapshot), { n: 2 }, {});
    expect(told).toEqual([undefined, undefined]);
  });

  it('says which step emptied the result', async () => {
    const r = await compile(`pipeline:
  name: p
  item_type: id
  initialization:
    includes: [{name: Ids, parameters: {ids: [2, 5]}}]
  operations:
  - {name: Eq, parameters: {column: color, value: green}}
`);
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const out = await execute(r.snapshot.pipelines.get('p')!.plan, env(r.snapshot), {});
    expect(out).toMatchObject({ length: 0, error: false });
    expect(out.reason).toBe('Eq(column=color, value=green) returned 0 items after filtering 2');
  });

  it('an empty union names each include with its bound parameters, as a filter that emptied it is named', async () => {
    // It said only 'includes InMySize returned 0 items': not which size was looked up (a client whose size is null).
    const r = await compile(`pipeline:
  name: p
  item_type: id
  initialization:
    includes: [{name: Ids, parameters: {ids: $none}}, {name: Ids, parameters: {ids: []}}]
`);
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const out = await execute(r.snapshot.pipelines.get('p')!.plan, env(r.snapshot), { none: [] });
    expect(out).toMatchObject({ length: 0, error: false });
    expect(out.reason).toBe('includes Ids(ids=[]), Ids(ids=[]) returned 0 items');
  });

  it('reports a failing source as error: true naming it', async () => {
    const r = await compile(`pipeline:
  name: p
  item_type: id
  initialization:
    includes: [{name: Ids, parameters: {ids: [1], fail: true}}]
`);
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const out = await execute(r.snapshot.pipelines.get('p')!.plan, env(r.snapshot), {});
    expect(out).toMatchObject({ error: true, errorCode: 'SOURCE_FAILED', operator: 'Ids' });
    expect(out.reason).toContain('upstream is down');
  });

  it('names the failing operation and keeps its code', async () => {
    const r = await compile(`pipeline:
  name: p
  item_type: id
  initialization:
    includes: [{name: Ids, parameters: {ids: [1]}}]
  operations:
  - {name: Eq, parameters: {column: nope, value: 1}}
`);
    // 'nope' is neither written nor in the items dataset: caught at load, not per request.
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics[0]).toMatchObject({ code: 'UNKNOWN_COLUMN', line: 10, col: 29, pointer: '/pipeline/operations/0/parameters/column' });
  });

  it('misses a context row without failing', async () => {
    const r = await compile(`pipeline:
  name: p
  item_type: id
  context: {user: {dataset: users, key: $uid}}
  initialization:
    includes: [{name: Ids, parameters: {ids: [1]}}]
  operations:
  - {name: Eq, parameters: {column: color, value: $user.fav}}
`);
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const out = await execute(r.snapshot.pipelines.get('p')!.plan, env(r.snapshot), { uid: 999 });
    expect(out).toMatchObject({ length: 0, error: false });
    expect(out.reason).toContain("no row with uid=999");
  });

  it('keeps codes of errors raised by operators', () => {
    const e = new AirmailError('UNKNOWN_COLUMN', 'x');
    expect(e.status).toBe(422);
  });

  it('leaves nothing of a request for the old generation', async () => {
    // The context operators get was an object literal with a getter (signal). V8 keeps such a getter
    // in a pair it allocates in the old generation, which then pointed at the request's closures and
    // through them at all its state: every request's state outlived two young collections, and a
    // worker ran a full collection every ~1,400 requests of the standard workload (loadtest/stalls.ts).
    const r = await compile(`pipeline:
  name: p
  item_type: id
  initialization:
    includes: [{name: Spy}]
  operations:
  - {name: Top, parameters: {by: id, n: 1}}
`);
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const plan = r.snapshot.pipelines.get('p')!.plan;
    const e = env(r.snapshot);
    contexts.keep = true;
    await execute(plan, e, {});
    contexts.keep = false;
    const ctx = contexts.seen.pop()!;
    expect(ctx.signal.aborted).toBe(false);
    for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(ctx))) expect([name, d.get, d.set]).toEqual([name, undefined, undefined]);
    // And as V8 sees it: what the old generation gains over many requests, with no full collection
    // between (one before; the old generation's limit is far above what this adds).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const old = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
    const grows = async (run: () => Promise<unknown>): Promise<number> => {
      for (let i = 0; i < 2000; i++) await run();
      gc();
      const before = old();
      const n = 30_000;
      for (let i = 0; i < n; i++) await run();
      return (old() - before) / n;
    };
    expect(await grows(() => execute(plan, e, {}))).toBeLessThan(100);
    // The same through the observer that serving uses (per-step metrics): an object literal that
    // began with a spread ({ ...out, observed }) had its copies promoted too, on Node 20.
    expect(await grows(() => executeObserved({ ops: 1 }, plan, e, {}, {}))).toBeLessThan(100);
  });
});
