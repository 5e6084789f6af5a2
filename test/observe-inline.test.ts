/**
 * Debug and why on the demo configs (no standard workload needed, so CI
 * always runs them), executed inline on the main thread (threads: 0): the
 * same observer hooks as in the pool workers, each verdict once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import type { DebugStep, WhyAnswer } from '../engine/observe/types.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;
const INPUTS = { client_id: 17, product_id: 42 };

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status).toBe(200);
  return (await r.json()) as Record<string, unknown>;
}
const why = async (item: number | string): Promise<WhyAnswer> => (await post('/pipelines/complimentary_items/why', { inputs: INPUTS, item }))['why'] as WhyAnswer;

describe('why and debug, inline runner', () => {
  let steps: DebugStep[];
  let items: { sku_id: number; score: number }[];
  beforeAll(async () => {
    srv = await server({ configs: await demoConfigs(), threads: 0 });
    const r = await post('/pipelines/complimentary_items?debug=true', INPUTS);
    steps = (r['debug'] as { steps: DebugStep[] }).steps;
    items = r['items'] as { sku_id: number; score: number }[];
  });
  afterAll(async () => srv?.close());

  it('gives each verdict with the step that decided it', async () => {
    const byStep = (n: string): DebugStep => steps.find((s) => s.step === n)!;
    expect((await why(byStep('PreviouslyPurchased').removed[0]!)).verdict).toBe('excluded');
    const f = await why(byStep('MatchDepartment').removed[0]!);
    expect([f.verdict, f.removedBy?.step]).toEqual(['filtered', 'MatchDepartment']);
    const c = await why(byStep('DiverseSample').removed[0]!);
    expect([c.verdict, c.removedBy?.step]).toEqual(['cut', 'DiverseSample']);
    expect(c.rank).toBeGreaterThan(0);
    expect(typeof c.score).toBe('number');
    const k = await why(items[0]!.sku_id);
    expect([k.verdict, k.rank]).toEqual(['kept', 1]);
    // A string id of a numeric item type is compared by value.
    expect((await why(String(items[0]!.sku_id))).verdict).toBe('kept');
    // -5 is no sku of the catalog: unknown_item, with what each include returned as for not_included.
    const n = await why(-5);
    expect(n.verdict).toBe('unknown_item');
    expect(n.notIncludedBy.length).toBe(2);
  });

  it('explains an empty result', async () => {
    const r = await post('/pipelines/complimentary_items/why', { inputs: { client_id: 99_999_999, product_id: 42 }, item: 1 });
    const w = r['why'] as WhyAnswer;
    expect(w.verdict).toBe('empty');
    expect(w.reason).toMatch(/context 'client'/);
  });
});

describe('off means off', () => {
  const p = { name: 'p', version: 'v' };

  it('asks the worker for nothing when metrics, logs and tracing are off', () => {
    const off = Observability.fromEnv({ AIRMAIL_METRICS: '0', AIRMAIL_LOG_LEVEL: 'warn' });
    expect(off.metrics).toBeUndefined();
    expect(off.tracing).toBeUndefined();
    expect(off.begin(p, {})).toBeUndefined();
    // A request that asks for debug or why still gets them.
    expect(off.begin(p, { debug: true })?.spec).toEqual({ debug: { maxIds: 20 } });
    expect(off.begin(p, { why: 7 })?.spec).toEqual({ why: { id: 7 } });
  });

  it('asks for step timings when metrics are on, and parameter summaries only at debug level', () => {
    expect(new Observability().begin(p, {})?.spec).toEqual({ ops: 1 });
    expect(new Observability({ metrics: false, logger: new Logger({ level: 'debug', sink: { write: () => undefined } }) }).begin(p, {})?.spec).toEqual({ ops: 2 });
    // Request logs alone need no worker report.
    expect(new Observability({ metrics: false, logger: new Logger({ level: 'info', sink: { write: () => undefined } }) }).begin(p, {})?.spec).toBeUndefined();
  });
});
