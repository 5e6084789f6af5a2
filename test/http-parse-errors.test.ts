/**
 * Requests Node's HTTP parser refuses (an unknown method, a malformed header, both Content-Length
 * and Transfer-Encoding, headers over the limit) got Node's bare answers: a 400 or 431 with an empty
 * body, where the README promises every error the JSON shape with a stable code. They now carry it
 * (REQUEST_MALFORMED naming what the parser refused, HEADERS_TOO_LARGE), with a request id, and the
 * connection is closed; the server keeps serving.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;
beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, watch: false });
});
afterAll(async () => {
  await srv.close();
});

/** Sends `raw` on a new connection; what came back once the server closed it. */
function exchange(raw: string): Promise<{ status: number; headers: string; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const s = connect(srv.port, '127.0.0.1');
    let text = '';
    s.on('data', (b: Buffer) => void (text += b.toString()));
    s.on('error', () => undefined);
    s.on('close', () => {
      const split = text.indexOf('\r\n\r\n');
      try {
        resolve({ status: Number(text.slice(9, 12)), headers: text.slice(0, split), body: JSON.parse(text.slice(split + 4)) as Record<string, unknown> });
      } catch {
        reject(new Error(`not a JSON answer: ${JSON.stringify(text)}`));
      }
    });
    s.write(raw);
  });
}

describe('requests the HTTP parser refuses', () => {
  it('an unknown method, a header without a colon, or two framings: 400 REQUEST_MALFORMED with the JSON shape', async () => {
    for (const raw of [
      'FOO /health HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n',
      'POST /pipelines/MyPipeline HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ]) {
      const r = await exchange(raw);
      expect(r.status, raw).toBe(400);
      expect(r.body).toMatchObject({ error: true, code: 'REQUEST_MALFORMED' });
      expect(String(r.body['reason'])).toMatch(/^the request is not valid HTTP\/1\.1: \S/);
      expect(r.headers).toMatch(/content-type: application\/json/i);
      expect(r.headers).toMatch(/x-request-id: [0-9a-f-]{36}/i);
    }
  });

  it('headers over the limit: 431 HEADERS_TOO_LARGE with the JSON shape', async () => {
    const r = await exchange(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(r.body).toMatchObject({ error: true, code: 'HEADERS_TOO_LARGE' });
  });

  it('the server keeps serving', async () => {
    expect((await fetch(`${srv.url}/health`)).status).toBe(200);
  });
});
