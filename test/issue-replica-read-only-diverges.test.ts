/**
 * Replicas over one Redis where one has a read-only configs folder (a ConfigMap) and another a
 * writable one: an admin change made on the writable replica cannot be saved on the read-only one,
 * which keeps serving its old version. The replicas diverged and nothing said so: no log line, no
 * rejection on GET /pipelines. Now the replica that cannot apply a replicated change logs a warn line
 * (code AIRMAIL_REPLICATE_DIVERGED) naming the pipeline, why, and the version it keeps serving; the
 * README's "Running several replicas" says what to do (one writable shared folder, or all read-only
 * and changes through the ConfigMap). The read-only replica runs as nobody when the test is root.
 */
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir, until } from './helpers.js';
import { serveAsNobody } from './serve-as-nobody.js';
import { redisOrSkip, startRedis, type RedisServer } from './redis-server.js';

const RUN = redisOrSkip();
const pipeline = (items: number[]): string => `pipeline:\n  name: a\n  item_type: id\n  initialization:\n    includes: [{name: Static, parameters: {items: ${JSON.stringify(items)}}}]\n`;

let redis: RedisServer | undefined;
let writable: RunningServer | undefined;
let child: ChildProcess | undefined;
let root: string | undefined;
beforeAll(async () => {
  if (RUN) redis = await startRedis();
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await writable?.close();
  await redis?.stop();
  if (root) {
    await chmod(join(root, 'ro'), 0o755).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
});

it.skipIf(!RUN)('a change the read-only replica cannot apply is said on its log, with the version it keeps serving', async () => {
  root = await tempDir('airmail-replica-ro-');
  await chmod(root, 0o755);
  const [rw, ro, state] = [join(root, 'rw'), join(root, 'ro'), join(root, 'state')];
  for (const d of [rw, ro, state]) await mkdir(d);
  await writeFile(join(rw, 'a.yaml'), pipeline([1, 2]));
  await writeFile(join(ro, 'a.yaml'), pipeline([1, 2]));
  await chmod(join(ro, 'a.yaml'), 0o444);
  await chmod(ro, 0o555);
  const replica = await serveAsNobody(ro, state, { threads: 0, env: { AIRMAIL_LOG_LEVEL: 'warn', REDIS_URL: redis!.url } });
  child = replica.child;
  const url = replica.url;
  const before = ((await (await fetch(`${url}/pipelines/a/run`)).json()) as { version: string }).version;

  writable = await server({ configs: rw, threads: 0, watch: false, adminToken: 'tok', replicate: { redisUrl: redis!.url } });
  await until(() => writable!.engine.replicator !== undefined, 'the writable replica replicates');
  const put = await fetch(`${writable.url}/pipelines`, { method: 'POST', headers: { authorization: 'Bearer tok', 'content-type': 'application/yaml' }, body: pipeline([7]) });
  expect(put.status).toBe(200);

  await until(() => replica.output().includes('AIRMAIL_REPLICATE_DIVERGED'), `the read-only replica says it diverged (its log: ${replica.output().slice(-1500)})`, 10_000);
  const line = JSON.parse(replica.output().split('\n').find((l) => l.includes('AIRMAIL_REPLICATE_DIVERGED'))!) as { level: string; msg: string };
  expect(line.level).toBe('warn');
  expect(line.msg).toContain("admin change to 'a' made on another replica was not applied here (CONFIGS_NOT_WRITABLE: the configs directory cannot be written");
  expect(line.msg).toContain(`this replica keeps serving version ${before} under that name, unlike the others`);
  expect(((await (await fetch(`${url}/pipelines/a/run`)).json()) as { version: string }).version).toBe(before);
}, 90_000);
