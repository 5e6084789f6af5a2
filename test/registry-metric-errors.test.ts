/**
 * Regressions (metrics through a registry server, from a data scientist's audit): a metric of 1e400
 * reached the registry as null (JSON has no Infinity) and was refused as "got null"; a VERSION that is
 * not a number (`registry metrics lr champion m.json`, POST /envelopes/lr/champion/metrics) answered
 * "no envelope lr@NaN"; an unreadable metrics file of `registry metrics` was a bare JSON.parse error.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';

let dir: string;
let reg: RunningRegistry;

async function cli(...args: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await registryCli([...args, '--registry', reg.url], { out: () => undefined, err: (l) => err.push(l) });
  return { code, err: err.join('\n') };
}

beforeAll(async () => {
  reg = await startRegistry();
  dir = await tempDir('airmail-metric-errors-');
  await writeFile(join(dir, 'm.mjs'), 'export function predict(c) { return { y: c.x }; }\n');
  await writeFile(join(dir, 'xs.json'), JSON.stringify([{ x: 1 }]));
  await writeFile(join(dir, 'huge.json'), '{"auc": 1e400}');
  await writeFile(join(dir, 'ok.json'), '{"auc": 0.8}');
  await writeFile(join(dir, 'broken.json'), '{"auc": ');
  expect(await cli('publish', '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'm', '--description', 'x', '--sample', join(dir, 'xs.json'))).toEqual({ code: 0, err: '' });
});
afterAll(async () => {
  await reg?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('metrics errors say what is wrong', () => {
  it('publish --metrics with 1e400 says it is not finite, not "got null"', async () => {
    const r = await cli('publish', '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'm', '--description', 'x', '--sample', join(dir, 'xs.json'), '--metrics', join(dir, 'huge.json'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/METRIC_INVALID[\s\S]*metric 'auc': scalar must be a finite number/);
  });

  it('registry metrics with 1e400 says it is not finite', async () => {
    const r = await cli('registry', 'metrics', 'm', '1', join(dir, 'huge.json'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/metric 'auc': scalar must be a finite number/);
  });

  it('registry metrics names an unreadable file', async () => {
    const r = await cli('registry', 'metrics', 'm', '1', join(dir, 'broken.json'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/METRIC_INVALID: cannot read metrics file .*broken\.json/);
  });

  it('a VERSION that is not a number is a usage error, not "m@NaN"', async () => {
    for (const args of [['registry', 'metrics', 'm', 'champion', join(dir, 'ok.json')], ['registry', 'alias', 'm', 'champion', 'latest']]) {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/VERSION must be a version number .*"(champion|latest)"/);
      expect(r.err).not.toMatch(/NaN/);
    }
  });

  it('POST /envelopes/NAME/ALIAS/metrics says metrics go to a version number', async () => {
    const res = await fetch(`${reg.url}/envelopes/m/champion/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"auc": 0.8}' });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { code: string; reason: string };
    expect(body).toMatchObject({ code: 'ENVELOPE_INVALID' });
    expect(body.reason).toMatch(/version number .*"champion"/);
    expect((await cli('registry', 'metrics', 'm', '1', join(dir, 'ok.json'))).code).toBe(0);
  });
});
