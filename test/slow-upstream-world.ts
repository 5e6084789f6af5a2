/**
 * The world of the slow-upstream bulkhead tests: a local upstream whose delay the test sets (it counts
 * the requests it holds at once), a `slow` pipeline reading it per user and a `fast` Lookup pipeline,
 * on a server of two workers where both run on the pool (inlineUnderMs 0).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

export interface SlowUpstreamWorld {
  readonly srv: RunningServer;
  /** The upstream's answer delay (ms); 2 at the start. */
  delayMs: number;
  /** Requests the upstream holds now, and the most it held since `most` was last set. */
  readonly inFlight: number;
  most: number;
  close(): Promise<void>;
}

/** `extra`: more pipelines, YAML list entries appended to `pipelines:`. */
export async function slowUpstreamWorld(extra = ''): Promise<SlowUpstreamWorld> {
  let inFlight = 0;
  const world = { delayMs: 2, most: 0, get inFlight() { return inFlight; } } as { delayMs: number; most: number; readonly inFlight: number };
  const upstream = createServer((_req, res) => {
    world.most = Math.max(world.most, ++inFlight);
    setTimeout(() => {
      inFlight--;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([{ sku_id: 1 }, { sku_id: 2 }]));
    }, world.delayMs);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const dir = await tempDir('airmail-slow-upstream-');
  await writeFile(join(dir, 'catalog.json'), JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ sku_id: i, dept: i % 10 }))));
  await writeFile(join(dir, 'p.yaml'), `
datasets:
  catalog: {path: catalog.json, key: sku_id}
pipelines:
- name: slow
  item_type: sku_id
  inputs: {user: {type: integer}}
  initialization:
    includes: [{name: HttpSource, parameters: {url: 'http://127.0.0.1:${port}/items?user={user}', vars: {user: $user}, column: sku_id, ttl_ms: 1, timeout_ms: 3000, retries: 0}}]
- name: fast
  item_type: sku_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog, where: {dept: $dept}}}]
  operations: [{name: Limit, parameters: {n: 5}}]
${extra}`);
  // inlineUnderMs 0: the fast pipeline runs on the workers (a cheap one would move to the main thread).
  const srv = await server({ configs: dir, threads: 2, inlineUnderMs: 0, deadlineMs: 5000, watch: false });
  return Object.assign(world, {
    srv,
    async close(): Promise<void> {
      await srv.close();
      await new Promise((r) => upstream.close(r));
    },
  });
}
