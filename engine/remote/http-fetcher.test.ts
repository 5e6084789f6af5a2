/**
 * How HttpFetcher meets upstreams that misbehave in ways a deployment sees: an answer far larger
 * than anything a source should return (it used to be read and decoded whole on the main thread:
 * a 39 MB list of ids took the server to 2 GB RSS and held every request past its deadline), a
 * gzip or brotli body (it failed as "not JSON"), a 429 with Retry-After (retried after 25 ms,
 * regardless), and a redirect (failed as a bare "status 302").
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpFetcher } from './http-fetcher.js';
import { parseRetryAfter } from './retry.js';

const calls = new Map<string, number[]>();
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const seen = calls.get(url.pathname) ?? [];
  seen.push(Date.now());
  calls.set(url.pathname, seen);
  const ids = JSON.stringify([1, 2, 3]);
  switch (url.pathname) {
    case '/big': // 2 MB, with a Content-Length
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.from({ length: 300_000 }, (_, i) => i)));
    case '/big-chunked': { // no Content-Length: counted while streaming
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[0');
      let i = 1;
      const more = (): void => {
        while (i < 2_000_000) {
          if (!res.write(`,${i++}`)) return void res.once('drain', more);
        }
        res.end(']');
      };
      return more();
    }
    case '/gzip-bomb': // 64 KiB sent, 64 MiB once inflated
      return void res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(64 * 1024 * 1024, 32)));
    case '/gzip':
      return void res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', vary: req.headers['accept-encoding'] ?? '' }).end(gzipSync(ids));
    case '/br':
      return void res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'br' }).end(brotliCompressSync(ids));
    case '/zstd':
      return void res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'zstd' }).end('xx');
    case '/429-short': // refused once, asking for 300 ms
      if (seen.length === 1) return void res.writeHead(429, { 'retry-after': '0.3' }).end();
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(ids);
    case '/429-long':
      return void res.writeHead(429, { 'retry-after': '30' }).end();
    case '/redirect':
      return void res.writeHead(302, { location: '/elsewhere?token=secret' }).end();
    default:
      return void res.writeHead(404).end();
  }
});
let base = '';
const fetcher = new HttpFetcher();
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await fetcher.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const get = (path: string, extra: Record<string, unknown> = {}) => fetcher.fetch({ kind: 'http', url: base + path, timeoutMs: 5000, retries: 2, backoffMs: 1, ...extra }, 'up');

describe('HttpFetcher body limit (max_bytes)', () => {
  it('refuses a body whose Content-Length is over the limit, without retrying', async () => {
    await expect(get('/big', { maxBytes: 1024 * 1024 })).rejects.toThrow(/GET http:\/\/127\.0\.0\.1:\d+\/big failed: the body is larger than max_bytes \(1048576 bytes\)/);
    expect(calls.get('/big')).toHaveLength(1);
  });
  it('reads a body under the limit', async () => {
    expect((await get('/big', { maxBytes: 4 * 1024 * 1024 })).length).toBe(300_000);
  });
  it('stops reading a chunked body once it passes the limit', async () => {
    const t0 = Date.now();
    await expect(get('/big-chunked', { maxBytes: 256 * 1024 })).rejects.toThrow(/larger than max_bytes \(262144 bytes\)/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
  it('bounds what a compressed body inflates to', async () => {
    await expect(get('/gzip-bomb', { maxBytes: 1024 * 1024 })).rejects.toThrow(/larger than max_bytes/);
  });
});

describe('HttpFetcher content-encoding', () => {
  it('decodes gzip and br bodies, and asks for them', async () => {
    expect(Array.from((await get('/gzip')).column('value') as ArrayLike<number>)).toEqual([1, 2, 3]);
    expect(Array.from((await get('/br')).column('value') as ArrayLike<number>)).toEqual([1, 2, 3]);
  });
  it('names an encoding it cannot decode', async () => {
    await expect(get('/zstd')).rejects.toThrow(/content-encoding 'zstd' is not supported/);
  });
});

describe('HttpFetcher Retry-After', () => {
  it('waits as long as a 429 asks before the retry', async () => {
    await get('/429-short');
    const [first, second] = calls.get('/429-short')!;
    expect(second! - first!).toBeGreaterThanOrEqual(280);
  });
  it('does not call again when asked to wait longer than it may, and says why', async () => {
    await expect(get('/429-long')).rejects.toThrow(/failed after 1 attempt: status 429 \(Retry-After 30000 ms\)/);
    expect(calls.get('/429-long')).toHaveLength(1);
  });
  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('HttpFetcher redirects', () => {
  it('says a redirect is not followed and where it pointed, without its query', async () => {
    const err = await get('/redirect').catch((e: Error) => e);
    expect(String(err)).toMatch(/status 302 \(a redirect to http:\/\/127\.0\.0\.1:\d+\/elsewhere\?\*\*\*\): redirects are not followed/);
    expect(String(err)).not.toContain('secret');
    expect(calls.get('/redirect')).toHaveLength(1);
  });
});
