/**
 * Three replicas on ONE shared configs folder and one Redis (real redis-server, in-process servers,
 * each watching the folder). Two of them are sent admin `POST /pipelines` of the same new pipeline
 * at once, with different texts: the second to write found the first one's `s0.yaml` (not loaded
 * yet, another text) and wrote `s0-2.yaml` beside it, so every replica kept a DUPLICATE_NAME
 * rejection, could report a different `file`, and the stray file stayed for good (a replica started
 * afterwards was rejected too). Now every replica writes the pipeline's one file, whichever text
 * Redis orders last wins, and nothing is left rejected. A DELETE racing a POST of one name ends the
 * same everywhere too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { server } from './helpers.js';
import type { RunningServer } from '../engine/server.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const RUN = redisOrSkip();
const pipeline = (name: string, items: number[]): string =>
  `pipeline: {name: ${name}, item_type: item_id, initialization: {includes: [{name: Static, parameters: {items: [${items.join(', ')}]}}]}}\n`;
const TOKEN = 'shared-folder-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Listing { pipelines: { name: string; version: string; file: string }[]; rejections?: unknown[] }

describe.skipIf(!RUN)('concurrent admin changes of one name on a shared configs folder', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let dir: string;
  const servers: RunningServer[] = [];
  let ch = 0;

  async function replicas(n: number, channel: string): Promise<RunningServer[]> {
    const out: RunningServer[] = [];
    for (let i = 0; i < n; i++) {
      const s = await server({ configs: dir, threads: 0, adminToken: TOKEN, reloadSettleMs: 50, replicate: { redisUrl: redis.url, channel, hashKey: `${channel}:admin` } });
      expect(s.startErrors).toEqual([]);
      servers.push(s);
      out.push(s);
    }
    return out;
  }
  const post = (s: RunningServer, text: string) => fetch(`${s.url}/pipelines`, { method: 'POST', headers: { ...auth, 'content-type': 'application/yaml' }, body: text });
  const list = async (s: RunningServer): Promise<Listing> => (await fetch(`${s.url}/pipelines`)).json() as Promise<Listing>;
  const yamlFiles = () => readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  /** Every replica reports the same for `name` (absent, or one version in one file) and no rejection, for 1 s in a row. */
  async function settled(all: RunningServer[], name: string): Promise<Listing[]> {
    const t0 = Date.now();
    let stableSince = 0;
    let last = '';
    for (;;) {
      const ls = await Promise.all(all.map(list));
      const key = JSON.stringify(ls.map((l) => [l.pipelines.filter((p) => p.name === name).map((p) => [p.version, p.file]), (l.rejections ?? []).length]));
      if (key !== last) [last, stableSince] = [key, Date.now()];
      else if (Date.now() - stableSince > 1000) return ls;
      if (Date.now() - t0 > 15_000) return ls;
      await sleep(100);
    }
  }

  let client: Redis;
  const hget = (key: string, field: string) => client.hget(key, field);

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    for (const s of servers) await s.close();
    await redis?.stop();
  });

  it('two different texts POSTed at once to two replicas end in one file, one version, no rejection', async () => {
    for (let round = 0; round < 3; round++) {
      dir = await mkdtemp(join(tmpdir(), 'airmail-shared-'));
      await writeFile(join(dir, 'base.yaml'), pipeline('base', [1]));
      const channel = `shared${++ch}`;
      const [a, b, c] = await replicas(3, channel);
      const [ra, rb] = await Promise.all([post(a!, pipeline('s0', [10, 11])), post(b!, pipeline('s0', [20, 21]))]);
      expect([ra.status, rb.status]).toEqual([201, 201]);
      const ls = await settled([a!, b!, c!], 's0');
      expect(yamlFiles()).toEqual(['base.yaml', 's0.yaml']);
      // The text Redis ordered last is the one in the file.
      expect(readFileSync(join(dir, 's0.yaml'), 'utf8')).toBe(await hget(`${channel}:admin`, 's0'));
      const s0 = ls.map((l) => l.pipelines.filter((p) => p.name === 's0'));
      for (const p of s0) expect(p).toEqual([expect.objectContaining({ file: 's0.yaml', version: s0[0]![0]!.version })]);
      for (const l of ls) expect(l.rejections ?? []).toEqual([]);
      // A replica started afterwards on the same folder loads it cleanly, at the same version.
      const [d] = await replicas(1, channel);
      expect((await list(d!)).pipelines.find((p) => p.name === 's0')?.version).toBe(s0[0]![0]!.version);
      for (const s of servers.splice(0)) await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a DELETE racing a POST of one name ends the same on every replica, with no stray file', async () => {
    for (let round = 0; round < 3; round++) {
      dir = await mkdtemp(join(tmpdir(), 'airmail-shared-'));
      await writeFile(join(dir, 'base.yaml'), pipeline('base', [1]));
      await writeFile(join(dir, 's1.yaml'), pipeline('s1', [1]));
      const channel = `shared${++ch}`;
      const [a, b, c] = await replicas(3, channel);
      const [rd, rp] = await Promise.all([fetch(`${a!.url}/pipelines/s1`, { method: 'DELETE', headers: auth }), post(b!, pipeline('s1', [30 + round]))]);
      expect(rd.status).toBe(204);
      expect([200, 201]).toContain(rp.status);
      const ls = await settled([a!, b!, c!], 's1');
      const s1 = ls.map((l) => l.pipelines.filter((p) => p.name === 's1').map((p) => [p.version, p.file]));
      expect(new Set(s1.map((x) => JSON.stringify(x))).size).toBe(1);
      // Whichever Redis ordered last: the put (the pipeline served from its one file) or the removal.
      const kept = await hget(`${channel}:admin`, 's1');
      expect(s1[0]!.length).toBe(kept === null ? 0 : 1);
      expect(yamlFiles()).toEqual(kept === null ? ['base.yaml'] : ['base.yaml', 's1.yaml']);
      for (const l of ls) expect(l.rejections ?? []).toEqual([]);
      for (const s of servers.splice(0)) await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
