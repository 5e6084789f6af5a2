/**
 * `/explain` says a pipeline's sources run concurrently, but on a memo miss (the usual first request
 * of each client) its excludes started only after its includes and pre-steps had finished: a remote
 * exclude (what the client bought, from a service) waited for a remote include, and the request took
 * their sum. They are now fetched together; the upstream sees both requests in flight at once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let srv: RunningServer;
let upstream: Server;
let inFlight = 0;
let most = 0;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    most = Math.max(most, ++inFlight);
    const bought = req.url?.startsWith('/bought');
    setTimeout(() => {
      inFlight--;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(bought ? [{ sku_id: 2 }] : [{ sku_id: 1 }, { sku_id: 2 }, { sku_id: 3 }]));
    }, 150);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const dir = await tempDir('airmail-excludes-concurrent-');
  await writeFile(join(dir, 'p.yaml'), `
pipelines:
- name: recs
  item_type: sku_id
  inputs: {user: {type: integer}}
  initialization:
    includes: [{name: HttpSource, parameters: {url: 'http://127.0.0.1:${port}/recs?user={user}', vars: {user: $user}, column: sku_id}}]
    excludes: [{name: HttpSource, parameters: {url: 'http://127.0.0.1:${port}/bought?user={user}', vars: {user: $user}, column: sku_id}}]
`);
  srv = await server({ configs: dir, threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
});

afterAll(async () => {
  await srv?.close();
  await new Promise((r) => upstream?.close(r));
});

it('fetches the excludes while the includes are fetched, on the first request of a client', async () => {
  for (const user of [1, 2]) {
    most = 0;
    const res = await request(`${srv.url}/pipelines/recs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) });
    const body = (await res.body.json()) as { items: { sku_id: number }[] };
    expect(res.statusCode).toBe(200);
    expect(body.items.map((i) => i.sku_id).sort()).toEqual([1, 3]);
    expect(most).toBe(2); // was 1: the exclude's request went out only once the include's had answered
  }
});
