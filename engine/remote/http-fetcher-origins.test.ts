/**
 * An HttpSource url may put a request value in its host (`http://{tenant}.svc/items`). The fetcher
 * kept a connection pool per origin for good, so every value a client ever sent left a Pool behind
 * (and its sockets until their keep-alive ended). Pools are an LRU of MAX_ORIGIN_POOLS now; the
 * least recently used is closed once its requests in flight finish.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpFetcher, MAX_ORIGIN_POOLS } from './http-fetcher.js';

const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('[1, 2, 3]'));
let port = 0;
const fetcher = new HttpFetcher({ keepAliveTimeoutMs: 60_000 });
beforeAll(async () => {
  // Every 127.0.0.N reaches a socket bound to all addresses: 200 origins, one server.
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await fetcher.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const connections = (): Promise<number> => new Promise((r, j) => server.getConnections((e, n) => (e ? j(e) : r(n))));

describe('HttpFetcher connection pools', () => {
  it('keeps at most MAX_ORIGIN_POOLS origins, closing the least recently used', async () => {
    const ORIGINS = 200;
    for (let i = 0; i < ORIGINS; i += 20) {
      const got = await Promise.all(Array.from({ length: 20 }, (_, j) => fetcher.fetch({ kind: 'http', url: `http://127.0.0.${1 + i + j}:${port}/items`, timeoutMs: 5000 }, 'up')));
      for (const t of got) expect(t.length).toBe(3);
    }
    expect(fetcher.stats().origins).toBe(MAX_ORIGIN_POOLS);
    // The closed pools' keep-alive sockets end (with a 60 s keep-alive, only a close ends them).
    for (let t = 0; t < 50 && (await connections()) > MAX_ORIGIN_POOLS; t++) await new Promise((r) => setTimeout(r, 20));
    expect(await connections()).toBeLessThanOrEqual(MAX_ORIGIN_POOLS);
    // A pool in use stays: the most recent origin answers again from its pool.
    expect((await fetcher.fetch({ kind: 'http', url: `http://127.0.0.${ORIGINS}:${port}/items`, timeoutMs: 5000 }, 'up')).length).toBe(3);
    expect(fetcher.stats().origins).toBe(MAX_ORIGIN_POOLS);
  });
});
