/**
 * Regression: a custom operator whose load-time hook threw (`check`, `verify`, `reads`, `writes`,
 * `compares`, `writeTypes`: an author's bug, such as reading a parameter that is not there) took the
 * whole server down at start ("airmail serve: Cannot read properties of undefined (unexpected:
 * please report it)"), the other pipelines with it. It is now a load problem of the step that uses
 * it, naming the operator and the hook; the other pipelines serve.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { server, tempDir } from './helpers.js';

const HOOKS = ['check', 'verify', 'reads', 'writes', 'compares', 'writeTypes'] as const;
const OPS = `
const T = { type: 'object' };
const boom = (p) => p.missing.field;
export const ops = [
${HOOKS.map((h) => `  { kind: 'transform', name: 'Bad_${h}', summary: 's', parameters: T, ${h}: boom, run: (p, i) => i.rows },`).join('\n')}
];
`;

let srv: Awaited<ReturnType<typeof server>>;
let problems: string[] = [];
beforeAll(async () => {
  const home = await tempDir('airmail-hook-throws-');
  await mkdir(join(home, 'ops'));
  await mkdir(join(home, 'configs'));
  await writeFile(join(home, 'ops', 'ops.js'), OPS);
  await writeFile(join(home, 'configs', 'defs.yaml'), 'operator_paths: [../ops]\n');
  await writeFile(join(home, 'configs', 'good.yaml'), 'pipeline:\n  name: good\n  item_type: id\n  initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}\n');
  for (const h of HOOKS) {
    await writeFile(join(home, 'configs', `${h}.yaml`), `pipeline:\n  name: p_${h}\n  item_type: id\n  initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}\n  operations: [Bad_${h}]\n`);
  }
  srv = await server({ configs: join(home, 'configs'), threads: 1 });
  problems = srv.engine.store.allRejections().flatMap((r) => r.diagnostics.map((d) => `${d.file?.split('/').pop()}: ${d.message}`));
}, 60_000);
afterAll(async () => srv?.close());

describe('an operator hook that throws at load', () => {
  it('does not stop the server: the other pipelines serve', async () => {
    const r = await request(`${srv.url}/pipelines/good`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(200);
    expect(((await r.body.json()) as { items: unknown[] }).items).toHaveLength(2);
  });

  it.each(HOOKS)('%s: the pipeline using it is refused, naming the operator, the hook and the error', async (h) => {
    expect(problems.find((p) => p.startsWith(`${h}.yaml:`))).toMatch(new RegExp(`Bad_${h}: the operator's ${h}\\(\\) threw: TypeError: Cannot read properties of undefined`));
    expect(srv.engine.snapshot.pipelines.has(`p_${h}`)).toBe(false);
  });
});
