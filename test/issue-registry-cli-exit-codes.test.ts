/**
 * Regression: the registry commands' exit codes disagreed. A missing metrics file was exit 2 for
 * `publish --metrics` but 1 (METRIC_INVALID) for `registry metrics`; `--tag stage` was 2 while
 * `--tag 'st age=x'`, `--sha256 abc`, `--flavor xx`, alias `12` and a malformed tag query were 1, and
 * `--sample-format xml` or `--version x` went through (the JSON sample read as CSV, "nothing matches
 * psale@NaN"). A command line that cannot work is now exit 2, what the registry refuses exit 1.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { snapshot, tempDir } from '../engine/registry/fixtures.js';
import { RegistryStore } from '../engine/registry/store.js';

let dir: string;
let reg: string;
beforeAll(async () => {
  dir = await tempDir('airmail-cli-exit-');
  reg = join(dir, 'registry');
  await RegistryStore.open(reg, { create: true });
  await writeFile(join(dir, 'm.mjs'), 'export function predict(c) { return { y: c.x }; }\n');
  await writeFile(join(dir, 'xs.json'), JSON.stringify([{ x: 1 }]));
  await writeFile(join(dir, 'bad.json'), '{"auc": ');
  const code = await registryCli(['publish', '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'm', '--description', 'x', '--sample', join(dir, 'xs.json'), '--registry', reg], { out: () => undefined, err: () => undefined });
  expect(code).toBe(0);
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function cli(args: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await registryCli([...args, '--registry', reg], { out: () => undefined, err: (l) => err.push(l) });
  return { code, err: err.join('\n') };
}

const publish = (...extra: string[]): string[] => ['publish', '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'm', '--description', 'x', '--sample', join(dir, 'xs.json'), ...extra];

describe('registry command exit codes', () => {
  it.each([
    ['registry metrics with a missing file', () => ['registry', 'metrics', 'm', '1', join(dir, 'none.json')], /metrics FILE .*none\.json: no such file/],
    ['--sha256 that is not 64 hex digits', () => publish('--sha256', 'abc'), /--sha256 must be 64 hex digits, not "abc"/],
    ['a tag key with a space', () => publish('--tag', 'st age=x'), /--tag "st age=x": tag key "st age" is not 1-128 of \[A-Za-z0-9\._-\]/],
    ['a tag without =', () => publish('--tag', 'stage'), /--tag "stage" must be key=value/],
    ['an unknown flavor', () => [...publish(), '--flavor', 'xx'], /--flavor must be one of onnx, js, not "xx"/],
    ['an unknown sample format', () => publish('--sample-format', 'xml'), /--sample-format must be one of arrow, json, csv, not "xml"/],
    ['an unknown column type', () => publish('--inputs', 'x:foo'), /--inputs: column 'x' has type "foo"/],
    ['a malformed model name', () => [...publish(), '--name', 'b ad'], /--name: model name "b ad" is not allowed/],
    ['a path-like model name', () => [...publish(), '--name', '../up'], /--name: model name "\.\.\/up" is not allowed/],
    ['a malformed tag query', () => ['registry', 'query', 'name=('], /the tag query: expected ','/],
    ['a --limit that is not a number', () => ['registry', 'query', 'name=m', '--limit', 'abc'], /--limit must be a positive whole number/],
    ['an alias that reads as a version', () => ['registry', 'alias', 'm', '12', '1'], /ALIAS: alias "12" is not allowed: it reads as a version number/],
    ['a malformed alias', () => ['registry', 'resolve', '--name', 'm', '--alias', 'a b'], /ALIAS: alias "a b" is not allowed/],
    ['a --version that is not a number', () => ['registry', 'resolve', '--name', 'm', '--version', 'x'], /VERSION must be a version number/],
  ] as const)('%s is a usage error (exit 2), and nothing is published', async (_what, args, message) => {
    const before = await snapshot(reg);
    const r = await cli([...args()]);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(2);
    expect(await snapshot(reg)).toEqual(before);
  });

  it.each([
    ['a well-formed --sha256 the artifact does not match', () => publish('--sha256', '0'.repeat(64)), /ARTIFACT_CORRUPT: artifact sha256 mismatch/],
    ['a metrics file that is not JSON', () => ['registry', 'metrics', 'm', '1', join(dir, 'bad.json')], /METRIC_INVALID: cannot read metrics file/],
    ['an alias moved to a version that is not published', () => ['registry', 'alias', 'm', 'champion', '9'], /ENVELOPE_NOT_FOUND: cannot point m:champion at m@9/],
    ['a version that is not published', () => ['registry', 'resolve', '--name', 'm', '--version', '9'], /ENVELOPE_NOT_FOUND/],
  ] as const)('%s is refused by the registry checks (exit 1)', async (_what, args, message) => {
    const r = await cli([...args()]);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(1);
  });

  it('takes an upper-case --sha256 that matches', async () => {
    const { createHash } = await import('node:crypto');
    const { readFile } = await import('node:fs/promises');
    const hex = createHash('sha256').update(await readFile(join(dir, 'm.mjs'))).digest('hex').toUpperCase();
    expect((await cli(publish('--sha256', hex))).code).toBe(0);
  });
});
