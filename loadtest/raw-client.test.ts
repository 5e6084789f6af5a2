/**
 * The lean socket client against a real node:http server: framing by Content-Length and by chunks,
 * keep-alive reuse, `connection: close`, the connection cap, timeouts and refused connections; and
 * the generator's `client: 'raw'` giving the same counts as undici.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClosedLoop, runOpenLoop } from './generator.js';
import { RawClient, RawClientError, responseLength } from './raw-client.js';

let server: Server;
let origin: string;
let sockets = 0;
let inFlight = 0;
let maxInFlight = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const done = (): void => void inFlight--;
      if (path === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('hello, ');
        setTimeout(() => res.end('wörld'), 5);
      } else if (path === '/close') {
        res.writeHead(503, { connection: 'close', 'content-type': 'application/json' }).end('{"error":"bye"}');
      } else if (path === '/slow') {
        setTimeout(() => res.writeHead(200).end('late'), 400);
      } else if (path === '/wait') {
        setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [1] })), 20);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, path, body, type: req.headers['content-type'] ?? null }));
      }
      res.on('finish', done);
    });
  });
  server.on('connection', () => sockets++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('RawClient', () => {
  it('sends method, path, headers and a UTF-8 body, and reads answers framed by Content-Length and by chunks', async () => {
    const c = new RawClient(origin, { connections: 2, timeoutMs: 2000 });
    try {
      const r = await c.request('POST', '/echo?x=1', { 'content-type': 'application/json' }, '{"name":"café"}');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body.toString())).toEqual({ method: 'POST', path: '/echo?x=1', body: '{"name":"café"}', type: 'application/json' });
      const chunked = await c.request('GET', '/chunked', {});
      expect([chunked.status, chunked.body.toString('utf8')]).toEqual([200, 'hello, wörld']);
    } finally {
      await c.close();
    }
  });

  it('keeps connections alive, never opens more than its cap, and replaces one the server closed', async () => {
    const before = sockets;
    maxInFlight = 0;
    const c = new RawClient(origin, { connections: 3, timeoutMs: 2000 });
    try {
      const all = await Promise.all(Array.from({ length: 30 }, () => c.request('GET', '/wait', {})));
      expect(all.every((r) => r.status === 200 && r.body.toString() === '{"items":[1]}')).toBe(true);
      expect(sockets - before).toBe(3);
      expect(maxInFlight).toBeLessThanOrEqual(3);
      const closed = await c.request('GET', '/close', {});
      expect([closed.status, closed.body.toString()]).toEqual([503, '{"error":"bye"}']);
      expect((await c.request('GET', '/echo', {})).status).toBe(200);
    } finally {
      await c.close();
    }
  });

  it('fails a request with no answer within the timeout as RAW_TIMEOUT, and one to a closed port with the socket error', async () => {
    const c = new RawClient(origin, { connections: 1, timeoutMs: 100 });
    try {
      await expect(c.request('GET', '/slow', {})).rejects.toMatchObject({ code: 'RAW_TIMEOUT' });
      expect((await c.request('GET', '/echo', {})).status).toBe(200); // a fresh connection after the timed-out one
    } finally {
      await c.close();
    }
    const spare = createServer();
    await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
    const port = (spare.address() as AddressInfo).port;
    await new Promise((r) => spare.close(r));
    const refused = new RawClient(`http://127.0.0.1:${port}`, { connections: 1, timeoutMs: 1000 });
    // Three requests for one connection slot: each waiter gets its own try and its own error.
    const errs = await Promise.all([1, 2, 3].map(() => refused.request('GET', '/', {}).catch((e: unknown) => e)));
    for (const err of errs) {
      expect(err).toBeInstanceOf(RawClientError);
      expect((err as RawClientError).code).toBe('ECONNREFUSED');
    }
    await refused.close();
  });

  it('frames only complete answers', () => {
    const head = 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n';
    expect(responseLength(Buffer.from(head + 'abc'))).toBeUndefined();
    expect(responseLength(Buffer.from(head + 'abcdeHTTP/1.1'))?.length).toBe(head.length + 5);
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n';
    expect(responseLength(Buffer.from(chunked))).toBeUndefined();
    expect(responseLength(Buffer.from(`${chunked}0\r\n\r\n`))).toMatchObject({ length: chunked.length + 5, chunked: true });
    expect(() => responseLength(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'))).toThrow(/chunk size/);
  });
});

describe("the generator's raw client", () => {
  it('counts answers, statuses and checks as the undici client does', async () => {
    const make = (i: number) => (i % 4 === 3 ? { path: '/close' } : { method: 'POST', path: '/echo', body: `{"i":${i}}` });
    const check = (_s: number, b: unknown): boolean => (b as { method?: string }).method === 'POST';
    const raw = await runClosedLoop({ url: origin, makeRequest: make, check, concurrency: 4, durationS: 0.5, client: 'raw' });
    expect(raw.completed).toBeGreaterThan(20);
    expect(raw.errors.network + raw.errors.timeout + raw.errors.check).toBe(0);
    expect(raw.statusCounts['503']).toBe(raw.errors.non2xx);
    expect(raw.statusCounts['200']! + raw.statusCounts['503']!).toBe(raw.completed);
    expect(raw.goodLatencyMs.max).toBeGreaterThan(0);
    const open = await runOpenLoop({ url: origin, makeRequest: () => ({ path: '/wait' }), check: (s, b) => s === 200 && Array.isArray((b as { items?: unknown }).items), rate: 200, durationS: 0.5, client: 'raw' });
    expect(open.requests).toBe(100);
    expect(open.statusCounts['200']).toBe(100);
    expect(open.errorCount).toBe(0);
  });
});
