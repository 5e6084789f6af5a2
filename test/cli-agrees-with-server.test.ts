/**
 * `airmail validate` run in a configs directory prints the same problems as the server that
 * loads it (GET /pipelines rejections) and as POST /validate: code, file, line:col and message.
 * It once printed absolute paths (`/srv/configs/mine.yaml:14:18: ...`, also inside messages such
 * as `is also defined in /srv/...`) where the server, and validate's own `note:` lines, name
 * files relative to where they are looked from.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDiagnostic, type Diagnostic } from '../engine/errors.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, ROOT, server } from './helpers.js';

const exec = promisify(execFile);
const TOKEN = 'agree-token';
// Two problems: a preset misspelt (a did-you-mean), and a Limit below its minimum.
const MINE = `pipeline:
  name: mine
  item_type: sku_id
  initialization:
    includes: [AvailableInventry]
    scores: [{name: Column, as: ctr, parameters: {column: f0}}]
  operations:
  - {name: Limit, parameters: {n: -1}}
`;

let dir: string;
let srv: RunningServer;

async function validate(...args: string[]): Promise<{ code: number; lines: string[] }> {
  const r = await exec(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'validate', ...args], { cwd: dir, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } }).then(
    (x) => ({ code: 0, stderr: x.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  return { code: r.code, lines: r.stderr.split('\n').filter((l) => / \[[A-Z_]+\]$/.test(l)).sort() };
}

beforeAll(async () => {
  dir = await demoConfigs();
  await writeFile(join(dir, 'mine.yaml'), MINE);
  srv = await server({ configs: dir, adminToken: TOKEN, threads: 0, watch: false });
});
afterAll(async () => srv?.close());

describe('airmail validate, the server\'s load and POST /validate report the same problems', () => {
  it('the same lines: code, file relative to the directory, line:col, message', async () => {
    const listed = (await (await request(`${srv.url}/pipelines`)).body.json()) as { rejections: { diagnostics: Diagnostic[] }[] };
    const served = listed.rejections.flatMap((r) => r.diagnostics).map(formatDiagnostic).sort();
    expect(served).toHaveLength(2);
    expect(served.every((l) => l.startsWith('mine.yaml:'))).toBe(true);
    const dry = await request(`${srv.url}/validate`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/yaml' }, body: MINE });
    const errors = ((await dry.body.json()) as { errors: Diagnostic[] }).errors;
    expect(errors.map((d) => formatDiagnostic({ ...d, file: d.file === 'request body' ? 'mine.yaml' : d.file })).sort()).toEqual(served);
    const one = await validate('mine.yaml');
    const whole = await validate('.');
    expect(one).toEqual({ code: 1, lines: served });
    expect(whole).toEqual({ code: 1, lines: served });
  });

  it('a message naming another file names it as the server does', async () => {
    await writeFile(join(dir, 'mine.yaml'), MINE.replace('name: mine', 'name: MyPipeline').replace('AvailableInventry', 'AvailableInventory').replace('n: -1', 'n: 1'));
    const r = await validate('.');
    expect(r.code).toBe(1);
    await writeFile(join(dir, 'mine.yaml'), MINE);
    expect(r.lines).toEqual(["my_pipeline.yaml:3:3: pipeline 'MyPipeline' is also defined in mine.yaml (at /pipeline/name) [DUPLICATE_NAME]"]);
  });
});

describe('airmail run answers what the server answers', () => {
  async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return exec(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'run', 'MyPipeline', '--configs', dir, ...args], { cwd: dir, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } }).then(
      (x) => ({ code: 0, ...x }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
  }
  it('the same items for the same inputs; a refused input with the same problem, said for --input, not "in the query"', async () => {
    const cli = await run('--input', 'client_id=3');
    const http = (await (await request(`${srv.url}/pipelines/MyPipeline/run?client_id=3`)).body.json()) as { items: unknown[] };
    expect(cli.code).toBe(0);
    expect((JSON.parse(cli.stdout) as { items: unknown[] }).items).toEqual(http.items);
    const twice = await run('--input', 'client_id=3', '--input', 'client_id=4');
    expect(twice.code).toBe(1);
    // After the problems of the broken mine.yaml beside it (MyPipeline is still served), one line.
    expect(twice.stderr.split('\n').at(-2)).toBe("airmail run: inputs of pipeline 'MyPipeline' are invalid: /client_id 'client_id' is given 2 times by --input; it takes one value [INPUT_INVALID]");
  });
});
