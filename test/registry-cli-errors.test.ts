/**
 * Regressions (publish's error paths, from a new-user audit): a missing registry folder was created
 * silently; a missing file or an unknown --package came out as `error INTERNAL`; an ftp:// location
 * as QUERY_INVALID; `--tag name=…` as "the index is incomplete"; a metric given as a string as
 * "(got type undefined)"; and `--tag user=…` overrode the user taken from the environment.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { tempDir } from '../engine/registry/fixtures.js';
import { RegistryStore } from '../engine/registry/store.js';

let dir: string;
let reg: string;
beforeAll(async () => {
  dir = await tempDir('airmail-cli-errors-');
  reg = join(dir, 'registry');
  await RegistryStore.open(reg, { create: true });
  await writeFile(join(dir, 'm.mjs'), 'export function predict(c) { return { y: c.x }; }\n');
  await writeFile(join(dir, 'xs.json'), JSON.stringify([{ x: 1 }]));
  await writeFile(join(dir, 'string-metric.json'), JSON.stringify({ auc: '0.8', other: null }));
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function publish(...extra: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const args = ['publish', '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'm', '--description', 'x', '--sample', join(dir, 'xs.json'), '--registry', reg];
  for (let i = 0; i < extra.length; i += 2) {
    const at = args.indexOf(extra[i]!);
    if (at >= 0) args[at + 1] = extra[i + 1]!; else args.push(extra[i]!, extra[i + 1]!);
  }
  const code = await registryCli(args.filter((a) => a !== ''), { out: () => undefined, err: (l) => err.push(l) });
  return { code, err: err.join('\n') };
}

describe('airmail publish refuses, saying what is wrong', () => {
  it.each([
    ['a registry folder that does not exist', ['--registry', '/nonexistent/airmail-registry'], 2, /--registry \/nonexistent\/airmail-registry: no such registry folder \(pass --create to make an empty one there/],
    ['an ftp:// registry', ['--registry', 'ftp://example.com/r'], 2, /--registry ftp:\/\/example\.com\/r: use an http\(s\):\/\/ URL/],
    ['a missing artifact file', ['--artifact', '/nonexistent/m.mjs'], 2, /--artifact \/nonexistent\/m\.mjs: no such file/],
    ['an unknown --package', ['--package', 'no-such-package-xyz'], 1, /ENVELOPE_INVALID: --package no-such-package-xyz: not in package-lock\.json/],
    ['a name tag that contradicts --name', ['--tag', 'name=other'], 1, /ENVELOPE_INVALID: the envelope index is invalid:\n {2}tag 'name' \("other"\) contradicts the name given \("m"\)/],
    ['a metric given as a string', ['--metrics', '__string_metric__'], 1, /metric 'auc': .*\(got a string \("0\.8"\)\)[\s\S]*metric 'other': .*\(got null\)/],
  ] as const)('%s', async (_what, extra, code, message) => {
    const r = await publish(...extra.map((a) => (a === '__string_metric__' ? join(dir, 'string-metric.json') : a)));
    expect(r.err).toMatch(message);
    expect(r.code).toBe(code);
    expect(existsSync('/nonexistent/airmail-registry')).toBe(false);
  });

  it('refuses a user tag that contradicts the environment', async () => {
    const before = process.env.AIRMAIL_USER;
    process.env.AIRMAIL_USER = 'alice';
    try {
      const r = await publish('--tag', 'user=mallory');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/ENVELOPE_INVALID: tag\(s\) 'user' \("mallory", the environment says "alice"\) are derived from the environment/);
      expect((await publish('--tag', 'user=alice')).code).toBe(0);
    } finally {
      if (before === undefined) delete process.env.AIRMAIL_USER; else process.env.AIRMAIL_USER = before;
    }
  });

  it('creates a folder registry only when asked to', async () => {
    const fresh = join(dir, 'fresh');
    expect((await publish('--registry', fresh)).code).toBe(2);
    expect(existsSync(fresh)).toBe(false);
    expect((await publish('--registry', fresh, '--create', '')).code).toBe(0);
  });
});
