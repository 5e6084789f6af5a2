/**
 * Issue: `airmail run PIPELINE --registry DIR` on a pipeline scored by a js
 * model printed its answer and then never exited: the js function's worker
 * thread kept the process alive (its 'message' listener ref'd the port for
 * good). The thread now holds the process only while a call waits on it.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import { ROOT, tempDir } from './helpers.js';

describe('airmail run with a js model from a registry folder', () => {
  it('prints the answer and exits', async () => {
    const dir = await tempDir('airmail-run-js-');
    const folder = join(dir, 'registry');
    const store = await RegistryStore.open(folder, { create: true });
    await publishModel({ artifact: new TextEncoder().encode('export function predict(c) { return { y: Float64Array.from(c.x, (v) => v * 2) }; }\n'), flavor: 'js', name: 'scale', description: 'y = 2x', sample: [{ x: 1 }] }, store);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'p.yaml'), [
      'pipeline:',
      '  name: doubled',
      '  item_type: id',
      '  initialization:',
      '    includes: [{name: Static, parameters: {items: [{id: 1, x: 3}, {id: 2, x: 5}]}}]',
      '    scores: [{name: ModelScore, parameters: {model: {tags: {name: scale}}}, as: y}]',
      '  operations: [{name: Sort, parameters: {by: score, desc: true}}]',
      '',
    ].join('\n'));
    const started = Date.now();
    const r = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'run', 'doubled', '--configs', join(dir, 'configs'), '--registry', folder],
        { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1', AIRMAIL_REGISTRY: '' }, timeout: 20_000, killSignal: 'SIGKILL' },
        (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, signal: err?.signal ?? null, stdout, stderr }));
    });
    expect(r.signal, `still running after ${Date.now() - started} ms; stdout: ${r.stdout}`).toBeNull();
    expect([r.code, r.stderr]).toEqual([0, '']);
    const res = JSON.parse(r.stdout) as { items: { id: number; score: number }[] };
    expect(res.items).toEqual([{ id: 2, score: 10 }, { id: 1, score: 6 }]);
  }, 30_000);
});
