/**
 * An admin POST or DELETE on a configs directory the server cannot write is a 409
 * CONFIGS_NOT_WRITABLE, but its reason began "the config was rejected: ...", the words of a config
 * that failed its checks, for a change that was refused because it could not be saved (the config
 * was valid: /validate says so). Now the reason says the change was refused and nothing was saved or
 * applied, whole (it used to be clipped before its advice). The server runs as nobody when the test
 * runs as root (root writes a 0555 folder).
 */
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { serveAsNobody } from './serve-as-nobody.js';

let child: ChildProcess | undefined;
let root: string | undefined;
afterAll(async () => {
  child?.kill('SIGKILL');
  if (root) {
    await chmod(join(root, 'configs'), 0o755).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
});

const PIPELINE = (name: string): string => JSON.stringify({ pipeline: { name, item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [1] } }] } } });

it('a change the configs directory cannot hold is refused, and the reason says so (not "the config was rejected")', async () => {
  root = await tempDir('airmail-not-writable-');
  await chmod(root, 0o755);
  const configs = join(root, 'configs');
  const state = join(root, 'state');
  await mkdir(configs);
  await mkdir(state);
  await writeFile(join(configs, 'held.json'), PIPELINE('held'));
  await chmod(join(configs, 'held.json'), 0o444);
  await chmod(configs, 0o555);
  const server = await serveAsNobody(configs, state, { threads: 0, env: { AIRMAIL_ADMIN_TOKEN: 'tok' } });
  child = server.child;
  const url = server.url;
  const auth = { authorization: 'Bearer tok', 'content-type': 'application/json' };

  // The dry run answers as the POST it dry-runs would (test/issue-validate-readonly.test.ts).
  const valid = await fetch(`${url}/validate`, { method: 'POST', headers: auth, body: PIPELINE('posted') });
  expect(valid.status).toBe(409);
  expect(await valid.json()).toMatchObject({ valid: false, code: 'CONFIGS_NOT_WRITABLE' });
  for (const [method, path, body, file] of [['POST', '/pipelines', PIPELINE('posted'), 'posted.yaml'], ['DELETE', '/pipelines/held', undefined, 'held.json']] as const) {
    const res = await fetch(`${url}${path}`, { method, headers: auth, ...(body ? { body } : {}) });
    const answer = (await res.json()) as { code: string; reason: string };
    expect(res.status, method).toBe(409);
    expect(answer.code, method).toBe('CONFIGS_NOT_WRITABLE');
    expect(answer.reason, method).not.toMatch(/rejected/);
    expect(answer.reason, method).toMatch(new RegExp(`^the change was refused: the configs directory cannot be written \\((EACCES|EROFS|EPERM) on ${file.replace('.', '\\.')}\\), so nothing was saved or applied and the served version is unchanged; .* or serve a writable copy$`));
  }
}, 90_000);
