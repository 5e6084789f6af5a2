/**
 * Worker faults, deadlines and overload over HTTP, on the real worker pool:
 * an operator that throws, exits, loops forever or exhausts its heap fails
 * only its own request within 1 s and the pool recovers; deadlines (default,
 * per pipeline, per request header) count queue time and end in 504; a full
 * queue is a 503 with Retry-After.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { ROOT, server, tempDir } from './helpers.js';

let srv: RunningServer;

const step = (mode: string, ms?: number): string => `{name: Fault, parameters: {mode: ${mode}${ms !== undefined ? `, ms: ${ms}` : ''}}}`;
const pipe = (name: string, ops: string[], extra = ''): string =>
  `- name: ${name}\n  item_type: id\n  initialization:\n    includes: [{name: Static, parameters: {items: [1, 2, 3]}}]\n  operations: [${ops.join(', ')}]\n${extra}`;

async function faultyConfigs(): Promise<string> {
  const dir = await tempDir('airmail-faults-');
  await writeFile(join(dir, 'faults.yaml'), [
    `operator_paths: [${JSON.stringify(join(ROOT, 'test/fixtures/operators'))}]`,
    'pipelines:',
    pipe('ok', [step('ok')]),
    pipe('throws', [step('throw')]),
    pipe('exits', [step('exit')]),
    pipe('loops', [step('loop')]),
    pipe('oom', [step('oom')]),
    pipe('busy', [step('busy', 700)]),
    pipe('medium', [step('busy', 150)]),
    pipe('slow20', [step('busy', 20)]),
    pipe('quick', [step('busy', 1)]),
    pipe('native', [step('native', 500)]),
    pipe('native_late', [step('native', 700)], '  deadline_ms: 100\n'),
    pipe('long', [step('busy', 4000)]),
    pipe('sleepy', [step('sleep', 150), step('sleep', 150), step('sleep', 150)]),
    pipe('waits', [step('wait-abort')]),
    pipe('short', [step('wait-abort')], '  deadline_ms: 150\n'),
    pipe('late_throw', [step('late-throw')]),
  ].join('\n'));
  return dir;
}

async function post(name: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, unknown>; ms: number }> {
  const t0 = performance.now();
  const res = await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
  const json = (await res.body.json()) as Record<string, unknown>;
  return { status: res.statusCode, json, headers: res.headers, ms: performance.now() - t0 };
}

async function expectHealthy(n = 8): Promise<void> {
  const all = await Promise.all(Array.from({ length: n }, () => post('ok')));
  expect(all.map((r) => r.status)).toEqual(all.map(() => 200));
  expect(all.every((r) => (r.json['items'] as unknown[]).length === 3)).toBe(true);
}

beforeAll(async () => {
  srv = await server({ configs: await faultyConfigs(), threads: 2, maxQueue: 32, workerHeapMb: 48, deadlineMs: 30_000, watch: false });
  expect(srv.startErrors).toEqual([]);
  await expectHealthy();
}, 60_000);
afterAll(async () => srv?.close());

describe('a faulty operator fails only its own request, within 1 s, and the pool recovers', () => {
  it('throws → 500 naming the operator', async () => {
    const r = await post('throws');
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ error: true, code: 'OPERATOR_FAILED', operator: 'Fault' });
    expect(r.ms).toBeLessThan(1000);
    await expectHealthy();
  });

  it('process.exit → 500 WORKER_FAILED, other requests in flight unharmed', async () => {
    const others = Array.from({ length: 6 }, () => post('ok'));
    const r = await post('exits');
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ error: true, code: 'WORKER_FAILED' });
    expect(r.ms).toBeLessThan(1000);
    expect((await Promise.all(others)).map((x) => x.status)).toEqual(others.map(() => 200));
    await expectHealthy();
  });

  it('an endless loop → 504 once its deadline (+ grace) passes; the worker is stopped and replaced', async () => {
    const others = Array.from({ length: 6 }, () => post('ok'));
    // Nominally 150 ms + 250 ms of grace; a spinning thread on a loaded 2-core machine can delay the
    // watchdog's timer, so the better of two tries must be within 1 s.
    let r = await post('loops', { 'x-airmail-deadline-ms': '150' });
    if (r.ms >= 1000) {
      await expectHealthy(2);
      r = await post('loops', { 'x-airmail-deadline-ms': '150' });
    }
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ error: true, code: 'DEADLINE_EXCEEDED' });
    expect(r.ms).toBeLessThan(1000);
    expect((await Promise.all(others)).map((x) => x.status)).toEqual(others.map(() => 200));
    await expectHealthy();
    expect(srv.engine.runner.stats().threads).toBe(2);
  });

  it('running out of heap → 500 WORKER_FAILED within 1 s, not a dead process', async () => {
    let r = await post('oom');
    if (r.ms >= 1000) {
      await expectHealthy(2);
      r = await post('oom'); // the better of two tries: see the endless loop
    }
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ error: true, code: 'WORKER_FAILED' });
    expect(r.json['reason']).toMatch(/heap/);
    expect(r.ms).toBeLessThan(1000);
    await expectHealthy();
  });

  it('an error thrown from a timer after the task ended fails no request and keeps the worker', async () => {
    const lost = (srv.engine.runner as { workerFailures?: number }).workerFailures;
    for (let i = 0; i < 3; i++) {
      expect((await post('late_throw')).status).toBe(200);
      await expectHealthy(4);
    }
    expect((srv.engine.runner as { workerFailures?: number }).workerFailures).toBe(lost);
  });
});

describe('a worker stopped on purpose (recycling, chaos)', () => {
  it('costs no request: the task it was running runs again on another worker', async () => {
    const runner = srv.engine.runner as { killWorker?: () => boolean };
    const running = [post('busy'), post('busy')];
    await new Promise((r) => setTimeout(r, 150));
    expect(runner.killWorker?.()).toBe(true);
    const results = await Promise.all(running);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    await expectHealthy(4);
  });

  it('costs no request when the retry meets the next stop, three times over', { timeout: 30_000 }, async () => {
    const runner = srv.engine.runner as { killWorker?: () => boolean; readyWorkers?: () => number; busyWorkers?: () => number; workerFailures?: number };
    const failures = runner.workerFailures ?? 0;
    // Workers that died by themselves in the tests above are not counted as ready.
    expect(runner.readyWorkers?.()).toBeLessThanOrEqual(2);
    const running = post('long');
    for (let k = 0; k < 3; k++) {
      // Each time both workers are up again (the replacement started) and the retry has reached one
      // of them, stop the busy one. (On a loaded machine the retry can still be on its way after the
      // replacement is up: stopping an idle worker then fails no task, and counts no failure.)
      const t0 = Date.now();
      do await new Promise((r) => setTimeout(r, 20));
      while ((runner.readyWorkers?.() !== 2 || runner.busyWorkers?.() !== 1) && Date.now() - t0 < 10_000);
      await new Promise((r) => setTimeout(r, 50));
      expect(runner.killWorker?.()).toBe(true);
    }
    expect((await running).status).toBe(200);
    expect((runner.workerFailures ?? 0) - failures).toBe(3);
    await expectHealthy(4);
  });
});

describe('workers inside onnxruntime', () => {
  /** One request, so the worker has started and loaded the pipelines. */
  const warm = async (srv: RunningServer): Promise<void> => {
    const res = await request(`${srv.url}/pipelines/ok`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
  };
  /** Waits until a worker is inside the native call (at most 5 s). */
  const insideNative = async (srv: RunningServer): Promise<void> => {
    const pool = (srv.engine.runner as unknown as { pool: { anyInNative(): boolean } }).pool;
    const t0 = Date.now();
    while (!pool.anyInNative() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(pool.anyInNative()).toBe(true);
  };
  // Stopping a worker while onnxruntime-node has a call in flight aborts the whole process
  // (engine/native-guard.ts). The 'native' fault waits counted as such a call.
  it('killWorker leaves a worker that is inside a native call alone', async () => {
    const small = await server({ configs: await faultyConfigs(), threads: 1, watch: false });
    const runner = small.engine.runner as { killWorker?: () => boolean };
    try {
      await warm(small);
      const call = request(`${small.url}/pipelines/native`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      await insideNative(small);
      expect(runner.killWorker?.()).toBe(false);
      const res = await call;
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      expect(runner.killWorker?.()).toBe(true);
    } finally {
      await small.close();
    }
  });

  it('the deadline watchdog waits for the native call to end instead of stopping the worker inside it', async () => {
    const small = await server({ configs: await faultyConfigs(), threads: 1, watch: false });
    const threads = (): number[] => (small.engine.runner as unknown as { pool: { pool: { threads: { threadId: number }[] } } }).pool.pool.threads.map((t) => t.threadId);
    try {
      await warm(small);
      const before = threads();
      // Deadline 100 ms, watchdog at 350 ms, the native call ends at 700 ms. The watchdog waits for
      // it; the call's last step then completes on the same worker (or the executor stops it at the
      // deadline): not a stopped worker, not a 500.
      const res = await request(`${small.url}/pipelines/native_late`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      await res.body.dump();
      expect([200, 504]).toContain(res.statusCode);
      expect(threads()).toEqual(before);
    } finally {
      await small.close();
    }
  });
});

describe('deadlines', () => {
  it('x-airmail-deadline-ms aborts a slow upstream call through ctx.signal → 504', async () => {
    const r = await post('waits', { 'x-airmail-deadline-ms': '120' });
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(r.ms).toBeLessThan(1000);
  });

  it('x-airmail-deadline-ms applies to pipelines sent to /execute too', async () => {
    const t0 = performance.now();
    const res = await request(`${srv.url}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-airmail-deadline-ms': '150' },
      body: JSON.stringify({ pipeline: { name: 'adhoc_wait', item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [1] } }] }, operations: [{ name: 'Fault', parameters: { mode: 'wait-abort' } }] } }),
    });
    expect(res.statusCode).toBe(504);
    await res.body.dump();
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('the per-pipeline deadline_ms applies without a header; the header can only shorten it', async () => {
    const a = await post('short');
    expect(a.status).toBe(504);
    expect(a.ms).toBeLessThan(1000);
    const b = await post('short', { 'x-airmail-deadline-ms': '60000' });
    expect(b.status).toBe(504);
    expect(b.ms).toBeLessThan(1000);
  });

  it('the executor stops between steps once the deadline passes', async () => {
    const r = await post('sleepy', { 'x-airmail-deadline-ms': '200' });
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ code: 'DEADLINE_EXCEEDED', operator: 'Fault' });
  });

  it('counts time spent waiting in the queue', async () => {
    // Both workers are busy for 700 ms; a request with a 150 ms deadline must not wait them out.
    const busy = [post('busy'), post('busy')];
    await new Promise((r) => setTimeout(r, 50));
    const r = await post('ok', { 'x-airmail-deadline-ms': '150' });
    expect(r.status).toBe(504);
    expect(r.ms).toBeLessThan(650);
    expect((await Promise.all(busy)).map((x) => x.status)).toEqual([200, 200]);
  });

  it('the default deadline applies to every request', async () => {
    const fast = await server({ configs: await faultyConfigs(), threads: 1, deadlineMs: 150, watch: false });
    try {
      const t0 = performance.now();
      const res = await request(`${fast.url}/pipelines/waits`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.statusCode).toBe(504);
      await res.body.dump();
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      await fast.close();
    }
  });
});

describe('overload', () => {
  /** POSTs `{}` to pipeline `name` on `url` and answers the status. */
  const statusOf = async (url: string, name: string): Promise<number> => {
    const res = await request(`${url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await res.body.dump();
    return res.statusCode;
  };

  it('sheds by expected queue wait, not only by queue length: accepted requests keep their latency', async () => {
    const small = await server({ configs: await faultyConfigs(), threads: 1, maxQueue: 100, maxQueueWaitMs: 200, watch: false });
    const call = async (name: string): Promise<{ status: number; ms: number; reason: unknown }> => {
      const t0 = performance.now();
      const res = await request(`${small.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const body = (await res.body.json()) as { reason?: unknown };
      return { status: res.statusCode, ms: performance.now() - t0, reason: body.reason };
    };
    try {
      // Teach the pool what a task costs (~150 ms), then send six at once: one runs, one waits,
      // the others would wait 300 ms or more and are told so at once, though the queue has room.
      for (let i = 0; i < 10; i++) expect((await call('medium')).status).toBe(200);
      const all = await Promise.all(Array.from({ length: 6 }, () => call('medium')));
      const shed = all.filter((r) => r.status === 503);
      expect(shed.length).toBeGreaterThanOrEqual(3);
      for (const r of shed) expect(r.ms).toBeLessThan(300);
      // The refusal names its cause: the queue had room, its expected wait was over the limit.
      for (const r of shed) expect(r.reason).toMatch(/^the expected queue wait \(\d+ ms, \d+ waiting\) exceeds the limit of 200 ms$/);
      expect(all.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
    } finally {
      await small.close();
    }
  });

  it('judges the queue by recent runs: slow runs at the start do not keep shedding fast traffic after them', async () => {
    const small = await server({ configs: await faultyConfigs(), threads: 1, maxQueue: 100, maxQueueWaitMs: 30, watch: false });
    const call = (name: string): Promise<number> => statusOf(small.url, name);
    try {
      // Sixty 20 ms runs (a cold start, say), then forty fast ones: most runs since start were slow,
      // but tasks now take well under a millisecond, so two fast requests queued behind a running
      // one are expected to wait far less than 30 ms and are served, not shed.
      for (let i = 0; i < 60; i++) expect(await call('slow20')).toBe(200);
      for (let i = 0; i < 40; i++) expect(await call('ok')).toBe(200);
      const running = call('slow20');
      await new Promise((r) => setTimeout(r, 5));
      const queued = await Promise.all([call('ok'), call('ok')]);
      expect([await running, ...queued]).toEqual([200, 200, 200]);
    } finally {
      await small.close();
    }
  });

  it('an admitted request is not shed later: the pipeline load its worker asks for is part of it', async () => {
    const small = await server({ configs: await faultyConfigs(), threads: 1, maxQueue: 200, maxQueueWaitMs: 50, watch: false });
    const call = (name: string): Promise<number> => statusOf(small.url, name);
    try {
      for (let i = 0; i < 12; i++) expect(await call('ok')).toBe(200); // tasks look nearly free
      await Promise.all(Array.from({ length: 30 }, () => call('ok'))); // opens the connections, so that the bursts arrive at once
      await new Promise((r) => setTimeout(r, 1100)); // and the pace of that burst leaves the estimate's 1 s window
      // Twenty 20 ms tasks are all let in on that estimate, then 'quick' (never run: its worker will
      // ask for its load) with eight more behind it. By the time 'quick' reaches the worker the pace
      // reads 20 ms a task, and the eight queued behind are over the 50 ms limit: judged again, the load
      // was refused with OVERLOADED although the request had been admitted and had waited its turn.
      const slow = Array.from({ length: 20 }, () => call('slow20'));
      await new Promise((r) => setTimeout(r, 20));
      const quick = call('quick');
      await new Promise((r) => setTimeout(r, 20));
      const behind = Array.from({ length: 8 }, () => call('slow20'));
      expect(await quick).toBe(200);
      expect(await Promise.all(slow)).toEqual(slow.map(() => 200));
      await Promise.all(behind); // let in or not by the estimate when they came: not this test's point
    } finally {
      await small.close();
    }
  });

  it('one long task among many short ones does not stand for the pool: the fast burst after it is served', async () => {
    const small = await server({ configs: await faultyConfigs(), threads: 1, maxQueue: 200, maxQueueWaitMs: 200, watch: false });
    const call = (name: string): Promise<number> => statusOf(small.url, name);
    try {
      for (let i = 0; i < 20; i++) expect(await call('quick')).toBe(200);
      await Promise.all(Array.from({ length: 40 }, () => call('quick'))); // opens the connections
      // A 700 ms task amid thirty 1 ms ones, all queued: one long spacing among many short ones.
      await Promise.all([call('busy'), ...Array.from({ length: 30 }, () => call('quick'))]);
      // Fifteen 1 ms tasks expect some 15-30 ms of queue here, and up to ~100 ms on a machine so busy
      // that each costs the pool 7 ms: under the 200 ms limit. Averaged in, the 700 ms spacing made
      // each look like 20 ms or more and refused most of them.
      const burst = await Promise.all(Array.from({ length: 15 }, () => call('quick')));
      expect(burst.filter((s) => s !== 200)).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('a full queue answers 503 OVERLOADED with Retry-After (s) and Retry-After-Ms at once, and recovers', async () => {
    const small = await server({ configs: await faultyConfigs(), threads: 1, maxQueue: 2, watch: false });
    const call = async (name: string): Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, unknown>; ms: number }> => {
      const t0 = performance.now();
      const res = await request(`${small.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown>, headers: res.headers, ms: performance.now() - t0 };
    };
    try {
      expect((await call('ok')).status).toBe(200);
      const all = await Promise.all(Array.from({ length: 10 }, () => call('sleepy')));
      const rejected = all.filter((r) => r.status === 503);
      expect(rejected.length).toBeGreaterThan(0);
      for (const r of rejected) {
        expect(r.json).toEqual({ items: [], error: true, reason: expect.stringMatching(/^the worker queue is full \(\d+ waiting\)$/), code: 'OVERLOADED', pipeline: 'sleepy', version: expect.any(String), took_ms: expect.any(Number) });
        expect(r.headers['content-type']).toBe('application/json');
        expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        const ms = Number(r.headers['retry-after-ms']);
        expect(ms).toBeGreaterThanOrEqual(10);
        expect(ms).toBeLessThanOrEqual(5000);
        expect(r.ms).toBeLessThan(300);
      }
      expect(all.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
      expect((await call('ok')).status).toBe(200);
    } finally {
      await small.close();
    }
  });
});
