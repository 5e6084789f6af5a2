/**
 * A newer version whose stored artifact no longer matches its sha256 (a rotted file, bytes swapped
 * on disk) was rejected under `MODEL_LOAD_FAILED`, in GET /models `rejections` and in the log line,
 * while the error catalogue has `ARTIFACT_CORRUPT` for exactly that: an on-call engineer could not
 * tell a corrupt store from a bad model. The rejection now carries the registry's code. Checked with
 * a real store on disk, read directly (file://) and through the registry service, and the old
 * version keeps serving.
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { buildPublishRequest, prepareEnvelope } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import type { ModelLogEvent } from '../engine/registry/model-hub.js';
import { server, until } from './helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const times = (k: number): Uint8Array => enc(`export function predict(c, n) { return { s: Float64Array.from({ length: n }, (_, i) => ${k} * c.x[i]) }; }\n`);

async function draftOf(artifact: Uint8Array): Promise<Awaited<ReturnType<typeof prepareEnvelope>>> {
  return prepareEnvelope(await buildPublishRequest({ artifact, flavor: 'js', name: 'm', description: 'k * x', tags: { stage: 'prod' }, sample: [{ x: 1 }, { x: 3 }], context: { packages: {}, gitCommit: 'abcdef0' } }));
}

/** Publishes `artifact` as the next version in a scratch store, then plants it in `root` with its artifact bytes altered. */
async function plantCorrupt(root: string, artifact: Uint8Array, version: number): Promise<string> {
  const scratch = await tempDir('airmail-corrupt-scratch-');
  try {
    const store = await RegistryStore.open(scratch, { create: true });
    for (let v = 1; v < version; v++) await store.publish((await draftOf(times(100 + v))).draft, times(100 + v));
    const { draft, bytes } = await draftOf(artifact);
    const env = await store.publish(draft, bytes);
    expect(env.version).toBe(version);
    const sha = env.function.artifact.sha256;
    const corrupt = enc(new TextDecoder().decode(bytes).replace('=>', '=> 0 *'));
    await writeFile(join(root, 'artifacts', sha), corrupt);
    await mkdir(join(root, 'envelopes', 'm'), { recursive: true });
    await copyFile(join(scratch, 'envelopes', 'm', `${version}.json`), join(root, 'envelopes', 'm', `${version}.json`));
    return sha;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

describe('a newer version with a corrupt artifact is rejected as ARTIFACT_CORRUPT', () => {
  let dir: string | undefined;
  let reg: RunningRegistry | undefined;
  let srv: RunningServer | undefined;
  afterEach(async () => {
    await srv?.close();
    await reg?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    srv = undefined; reg = undefined; dir = undefined;
  });

  for (const via of ['file://', 'the registry service'] as const) {
    it(`read through ${via}: GET /models and the log say ARTIFACT_CORRUPT; the old version keeps serving`, async () => {
      dir = await tempDir('airmail-corrupt-swap-');
      const root = join(dir, 'registry');
      const store = await RegistryStore.open(root, { create: true });
      const v1 = await draftOf(times(2));
      await store.publish(v1.draft, v1.bytes);
      if (via === 'the registry service') reg = await startRegistry({ root });
      await mkdir(join(dir, 'configs'));
      await writeFile(join(dir, 'configs', 'p.yaml'), 'deployments:\n- {name: m, model: {tags: {name: m, stage: prod}}}\n');
      const events: ModelLogEvent[] = [];
      srv = await server({ configs: join(dir, 'configs'), threads: 1, registry: reg ? reg.url : `file://${root}`, modelHub: { pollMs: 50, log: (_line, e) => events.push(e) } });
      expect(srv.startErrors).toEqual([]);

      await plantCorrupt(root, times(3), 2);
      await reg?.store.refresh();
      type Listed = { rejections: { candidate: string; code: string; reason: string }[] };
      const listed = async (): Promise<Listed> => (await (await fetch(`${srv!.url}/models`)).json()) as Listed;
      await until(async () => (await listed()).rejections.some((r) => r.candidate === 'm@2'), 'm@2 is rejected', 10_000);
      const rej = (await listed()).rejections.find((r) => r.candidate === 'm@2')!;
      expect(rej.code).toBe('ARTIFACT_CORRUPT');
      expect(rej.reason).toMatch(/sha256 mismatch/);
      expect(events.find((e) => e.event === 'rejected' && e.to === 'm@2')?.code).toBe('ARTIFACT_CORRUPT');

      const res = await fetch(`${srv.url}/models/m/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: [{ x: 5 }] }) });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ predictions: [{ s: 10 }], model: { version: 1 } });
    }, 30_000);
  }
});
