/**
 * Lifecycle and the admin plane: SIGTERM drains a real `airmail serve`
 * process under load with zero failed requests and exit 0; liveness and
 * readiness answer different questions; admin routes on their own port with
 * an audit log; slow clients are cut off by header and request timeouts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Pool, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { demoConfigs, ROOT, server, tempDir } from './helpers.js';

const BIN = join(ROOT, 'bin/airmail.mjs');
const COMPLIMENTARY = JSON.stringify({ client_id: 17, product_id: 42 });

function spawnServe(args: string[], env: Record<string, string> = {}, viaNpm = false): Promise<{ child: ChildProcess; url: string; out: () => string }> {
  const serveArgs = ['--port', '0', '--host', '127.0.0.1', ...args];
  const [cmd, argv] = viaNpm ? ['npm', ['start', '--silent', '--', ...serveArgs]] : [process.execPath, [BIN, 'serve', ...serveArgs]];
  const child = spawn(cmd, argv, {
    cwd: ROOT,
    env: { ...process.env, AIRMAIL_FROM_SOURCE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    const check = (): void => {
      const m = /on http:\/\/localhost:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        child.stdout!.off('data', check);
        resolve({ child, url: `http://127.0.0.1:${m[1]}`, out: () => out });
      }
    };
    child.stdout!.on('data', check);
  });
}

describe('SIGTERM', () => {
  it('readiness goes 503, in-flight and keep-alive requests drain, exit 0, zero failed requests under load', async () => {
    const dir = await demoConfigs();
    await writeFile(join(dir, 'slow.yaml'), [
      `operator_paths: [${JSON.stringify(join(ROOT, 'test/fixtures/operators'))}]`,
      'pipeline:',
      '  name: slow',
      '  item_type: sku_id',
      '  initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}',
      '  operations: [{name: Fault, parameters: {mode: sleep, ms: 700}}]',
    ].join('\n'));
    const { child, url, out } = await spawnServe(['--configs', dir, '--threads', '2', '--drain-delay-ms', '400']);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const pool = new Pool(url, { connections: 4, pipelining: 1 });
    const statuses: number[] = [];
    const failures: string[] = [];
    let stopSending = false;
    let sawNotReady = false;
    let healthWhileDraining: number | undefined;
    try {
      // Warm up so every worker has the plan, then load with 4 keep-alive connections.
      for (let i = 0; i < 4; i++) await (await pool.request({ path: '/pipelines/complimentary_items', method: 'POST', headers: { 'content-type': 'application/json' }, body: COMPLIMENTARY })).body.dump();
      const loop = async (): Promise<void> => {
        while (!stopSending) {
          try {
            const r = await pool.request({ path: '/pipelines/complimentary_items', method: 'POST', headers: { 'content-type': 'application/json' }, body: COMPLIMENTARY });
            const json = (await r.body.json()) as { items?: unknown[] };
            statuses.push(r.statusCode);
            if (r.statusCode !== 200 || json.items?.length !== 10) failures.push(`status ${r.statusCode}`);
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      };
      // A load balancer's view: poll readiness, stop routing here once it fails.
      const poller = (async () => {
        while (!stopSending) {
          try {
            const r = await request(`${url}/ready`, { reset: true });
            await r.body.dump();
            if (r.statusCode === 503) {
              sawNotReady = true;
              const h = await request(`${url}/health`, { reset: true });
              healthWhileDraining = h.statusCode;
              await h.body.dump();
              stopSending = true;
            }
          } catch {
            stopSending = true;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const loops = Array.from({ length: 4 }, loop);
      await new Promise((r) => setTimeout(r, 800));
      // A long request in flight when SIGTERM arrives must still complete.
      const slow = request(`${url}/pipelines/slow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGTERM');
      await Promise.all([...loops, poller]);
      const slowRes = await slow;
      expect(slowRes.statusCode).toBe(200);
      expect(((await slowRes.body.json()) as { items: unknown[] }).items.length).toBe(2);
      expect(await exited).toBe(0);
    } finally {
      await pool.close().catch(() => undefined);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(failures).toEqual([]);
    expect(statuses.length).toBeGreaterThan(20);
    expect(sawNotReady).toBe(true);
    expect(healthWhileDraining).toBe(200);
    expect(out()).toContain('drained: exit 0');
  }, 90_000);

  it('a SIGTERM sent the moment the startup line appears is drained (the handlers were installed a few ms after it, and it killed the process)', async () => {
    for (let i = 0; i < 2; i++) {
      const { child, out } = await spawnServe(['--configs', await demoConfigs(), '--threads', '1']);
      const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
      child.kill('SIGTERM');
      expect(await exited, out()).toEqual({ code: 0, signal: null });
      expect(out()).toContain('drained: exit 0');
    }
  }, 60_000);

  it('a second SIGTERM during the drain exits at once, with a JSON log line saying so and status 143', async () => {
    const { child, out } = await spawnServe(['--configs', await demoConfigs(), '--threads', '1', '--drain-delay-ms', '20000']);
    try {
      const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
      child.kill('SIGTERM');
      for (let i = 0; i < 200 && !out().includes('SIGTERM: draining'); i++) await new Promise((r) => setTimeout(r, 25));
      const t0 = Date.now();
      child.kill('SIGTERM');
      // Killed by the signal's default action, it left no line and no exit status (code null).
      expect(await exited, out()).toEqual({ code: 143, signal: null });
      expect(Date.now() - t0).toBeLessThan(5000);
      const line = out().split('\n').find((l) => l.includes('again while draining'));
      expect(JSON.parse(line!)).toMatchObject({ level: 'warn', signal: 'SIGTERM', forced: true, exit_code: 143 });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);

  it('reaches the server through `npm start` too (the script execs node, so npm forwards the signal to it)', async () => {
    const { child, url } = await spawnServe(['--configs', await demoConfigs(), '--threads', '1'], {}, true);
    expect((await request(`${url}/ready`)).statusCode).toBe(200);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // npm has exited; without `exec` in the script the server outlived it and kept answering.
    await expect(request(`${url}/health`)).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);
});

describe('probes', () => {
  it('liveness depends only on the event loop; readiness on having something to serve and not draining', async () => {
    const empty = await server({ configs: await tempDir('airmail-empty-'), threads: 1, drainDelayMs: 300 });
    try {
      expect((await request(`${empty.url}/health`)).statusCode).toBe(200);
      const ready = await request(`${empty.url}/ready`);
      expect(ready.statusCode).toBe(503);
      expect(await ready.body.json()).toMatchObject({ ready: false, pipelines: 0 });
    } finally {
      await empty.close();
    }
    const srv = await server({ configs: await demoConfigs(), threads: 1, drainDelayMs: 300 });
    expect((await request(`${srv.url}/ready`)).statusCode).toBe(200);
    const closing = srv.close();
    expect(srv.draining).toBe(true);
    const during = await request(`${srv.url}/ready`);
    expect(during.statusCode).toBe(503);
    expect(during.headers['connection']).toBe('close');
    await during.body.dump();
    expect((await request(`${srv.url}/health`, { reset: true })).statusCode).toBe(200);
    await closing;
  });
});

describe('readiness follows the workers', () => {
  it('is 503 while no worker can take a task, and 200 again once its replacement has started', async () => {
    const srv = await server({ configs: await demoConfigs(), threads: 1, watch: false });
    try {
      const ok = await request(`${srv.url}/ready`);
      expect(ok.statusCode).toBe(200);
      expect(await ok.body.json()).toMatchObject({ ready: true, workers: 1 });
      expect((srv.engine.runner as { killWorker?: () => boolean }).killWorker?.()).toBe(true);
      const down = await request(`${srv.url}/ready`);
      expect(down.statusCode).toBe(503);
      expect(await down.body.json()).toMatchObject({ ready: false, workers: 0 });
      expect((await request(`${srv.url}/health`)).statusCode).toBe(200);
      const t0 = Date.now();
      let status = 503;
      while (status !== 200 && Date.now() - t0 < 20_000) {
        await new Promise((r) => setTimeout(r, 50));
        const r = await request(`${srv.url}/ready`);
        status = r.statusCode;
        await r.body.dump();
      }
      expect(status).toBe(200);
      const run = await request(`${srv.url}/pipelines/MyPipeline?client_id=3`);
      expect(run.statusCode).toBe(200);
      await run.body.dump();
    } finally {
      await srv.close();
    }
  });
});

describe('admin plane', () => {
  it('binds admin routes to a separate port and writes every admin request to the audit log', async () => {
    const audit = join(await tempDir('airmail-audit-'), 'logs/audit.jsonl');
    const token = 'the-admin-token-value';
    const srv = await server({ configs: await demoConfigs(), threads: 1, adminToken: token, adminPort: 0, auditLog: audit, watch: false });
    try {
      const body = JSON.stringify({ pipeline: { name: 'added', item_type: 'sku_id', initialization: { includes: ['AvailableInventory'] }, operations: [{ name: 'Limit', parameters: { n: 3 } }] } });
      const post = (base: string, b: string, auth = `Bearer ${token}`) =>
        request(`${base}/pipelines`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: b });
      // Not on the public port, even with the token.
      const pub = await post(srv.url, body);
      expect(pub.statusCode).toBe(404);
      await pub.body.dump();
      expect(srv.adminUrl).toBeDefined();
      // Refused by the body limit before any handler: audited too.
      const huge = await post(srv.adminUrl!, `{"pad": "${'x'.repeat(2 * 1024 * 1024)}"}`);
      expect(huge.statusCode).toBe(413);
      await huge.body.dump();
      const denied = await post(srv.adminUrl!, body, 'Bearer nope');
      expect(denied.statusCode).toBe(401);
      await denied.body.dump();
      const created = await post(srv.adminUrl!, body);
      expect(created.statusCode).toBe(201);
      const version = ((await created.body.json()) as { version: string }).version;
      const bad = await post(srv.adminUrl!, JSON.stringify({ pipeline: { name: 'added', item_type: 'sku_id', initialization: { includes: ['NoSuchOp'] } } }));
      expect(bad.statusCode).toBe(422);
      await bad.body.dump();
      const del = await request(`${srv.adminUrl}/pipelines/added`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      expect(del.statusCode).toBe(204);
      // The public port still serves pipelines.
      const run = await request(`${srv.url}/pipelines/MyPipeline?client_id=3`);
      expect(run.statusCode).toBe(200);
      await run.body.dump();
      await srv.close();
      const text = await readFile(audit, 'utf8');
      expect(text).not.toContain(token);
      const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => [l['action'], l['status'], l['outcome']])).toEqual([
        ['POST /pipelines', 404, 'denied'],
        ['POST /pipelines', 413, 'denied'],
        ['POST /pipelines', 401, 'denied'],
        ['pipeline.put', 201, 'applied'],
        ['pipeline.put', 422, 'rejected'],
        ['pipeline.delete', 204, 'applied'],
      ]);
      expect(lines[0]!['reason']).toBe('admin route sent to the public port');
      expect(lines[3]).toMatchObject({ pipeline: 'added', version_before: null, version_after: version, remote: '127.0.0.1' });
      expect(lines[3]!['token']).toMatch(/^[0-9a-f]{12}$/);
      // Keyed per process: not the unsalted sha256 prefix a short token could be guessed back from.
      expect(lines[3]!['token']).not.toBe(createHash('sha256').update(token).digest('hex').slice(0, 12));
      expect(lines[3]!['token']).toBe(lines[0]!['token']);
      expect(lines[4]!['reason']).toContain('NoSuchOp');
      expect(lines[5]).toMatchObject({ version_before: version, version_after: null });
      for (const l of lines) expect(Date.parse(String(l['at']))).not.toBeNaN();
    } finally {
      await srv.close();
    }
  });
  it('audits attempts at admin routes while they are disabled (no token set), when a log is named', async () => {
    const audit = join(await tempDir('airmail-audit-'), 'audit.jsonl');
    const srv = await server({ configs: await demoConfigs(), threads: 1, auditLog: audit, watch: false });
    try {
      const r = await request(`${srv.url}/pipelines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(r.statusCode).toBe(401);
      await r.body.dump();
    } finally {
      await srv.close();
    }
    const lines = (await readFile(audit, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toMatchObject([{ status: 401, outcome: 'denied', reason: 'admin routes are disabled (no token is set)' }]);
  });
});

describe('slow clients', () => {
  const closedWithin = (socket: Socket): Promise<{ ms: number; data: string }> => {
    const t0 = performance.now();
    let data = '';
    socket.on('data', (b: Buffer) => (data += b.toString()));
    return new Promise((resolve) => socket.once('close', () => resolve({ ms: performance.now() - t0, data })));
  };

  it('a client that dribbles its headers (slowloris) or its body is cut off at the timeout, and others are served meanwhile', async () => {
    const srv = await server({ configs: await demoConfigs(), threads: 1, headersTimeoutMs: 300, requestTimeoutMs: 600, watch: false });
    const port = srv.port;
    const timers: NodeJS.Timeout[] = [];
    try {
      const loris = connect(port, '127.0.0.1');
      loris.on('error', () => undefined);
      const lorisClosed = closedWithin(loris);
      loris.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      timers.push(setInterval(() => !loris.destroyed && loris.write('X-Slow: 1\r\n'), 50));

      const slowBody = connect(port, '127.0.0.1');
      slowBody.on('error', () => undefined);
      const bodyClosed = closedWithin(slowBody);
      slowBody.write('POST /pipelines/MyPipeline HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
      timers.push(setInterval(() => !slowBody.destroyed && slowBody.write(' '), 50));

      // Meanwhile a normal client is served.
      const ok = await request(`${srv.url}/pipelines/MyPipeline?client_id=3`);
      expect(ok.statusCode).toBe(200);
      await ok.body.dump();

      const a = await lorisClosed;
      expect(a.ms).toBeLessThan(2000);
      expect(a.data).toMatch(/^HTTP\/1\.1 408 /);
      // The 408 has the JSON error body every other error has.
      expect(a.data).toMatch(/\r\ncontent-type: application\/json\r\n/i);
      expect(JSON.parse(a.data.slice(a.data.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: true, code: 'REQUEST_TIMEOUT', items: [], reason: 'the request headers were not received within 300 ms', took_ms: 300 });
      expect(a.data).toMatch(/\r\nX-Request-Id: [0-9a-f-]{36}\r\n/);
      const b = await bodyClosed;
      expect(b.ms).toBeLessThan(2500);
      expect(b.data).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(b.data.slice(b.data.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: true, code: 'REQUEST_TIMEOUT', reason: 'the request was not received within 600 ms' });
    } finally {
      timers.forEach(clearInterval);
      await srv.close();
    }
  });

  it('Expect: 100-continue with a Content-Length over the limit is answered 413 at once, never 100 Continue', async () => {
    const srv = await server({ configs: await demoConfigs(), threads: 1, bodyLimit: 1000, watch: false });
    try {
      const big = connect(srv.port, '127.0.0.1');
      big.on('error', () => undefined);
      const closed = closedWithin(big);
      big.write('POST /pipelines/MyPipeline HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n');
      const r = await closed;
      expect(r.data).toMatch(/^HTTP\/1\.1 413 /);
      expect(r.data).not.toContain('100 Continue');
      expect(JSON.parse(r.data.slice(r.data.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: true, code: 'BODY_TOO_LARGE' });

      // Within the limit, the client is told to go on and is served.
      const small = connect(srv.port, '127.0.0.1');
      small.on('error', () => undefined);
      let data = '';
      const continued = new Promise<void>((resolve) => small.on('data', (b: Buffer) => {
        data += b.toString();
        if (data.includes('100 Continue')) resolve();
      }));
      const body = '{"client_id": 3}';
      small.write(`POST /pipelines/MyPipeline HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
      await continued;
      const done = closedWithin(small);
      small.write(body);
      await done;
      expect(data).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    } finally {
      await srv.close();
    }
  });
});
