/**
 * The `airmail` command line as a user runs it (bin/airmail.mjs in a child
 * process), and custom operators loaded from a folder named in a config.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import { airmailCli, demoConfigs, ROOT, server, tempDir } from './helpers.js';

const exec = promisify(execFile);
const BIN = join(ROOT, 'bin/airmail.mjs');

async function airmail(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return airmailCli({}, ...args);
}

describe('airmail CLI', () => {
  it('validate accepts the demo configs', async () => {
    const r = await airmail('validate', 'configs/demo.yaml', 'configs/my_pipeline.yaml', 'configs/complimentary_items.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: .*MyPipeline@[0-9a-f]+/);
  });

  it('validate exits non-zero with every problem, each with file, line and column', async () => {
    // The fixtures are files of their own, not one configs directory: --alone checks the file by itself.
    const r = await airmail('validate', '--alone', 'test/fixtures/broken/many-errors.yaml');
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^\d+ problem\(s\)$/);
    expect(Number(lines.at(-1)!.split(' ')[0])).toBeGreaterThan(1);
    for (const l of lines.slice(0, -1).filter((x) => x.includes('many-errors.yaml'))) expect(l).toMatch(/many-errors\.yaml:\d+:\d+: .+ \[[A-Z_]+\]$/);
  });

  it('run executes a pipeline once and prints the response as JSON', async () => {
    const r = await airmail('run', 'MyPipeline', '--input', 'client_id=3');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as { items: { sku_id: number; score: number }[]; error: boolean; pipeline: string };
    expect(res.pipeline).toBe('MyPipeline');
    expect(res.error).toBe(false);
    expect(res.items.length).toBeGreaterThan(0);
    const scores = res.items.map((i) => i.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('--help prints the usage and exits 0; an unknown flag names itself and exits 2, without a stack trace', async () => {
    for (const cmd of ['serve', 'run', 'publish']) {
      const help = await airmail(cmd, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^usage:\n  airmail ${cmd} `));
    }
    const bad = await airmail('serve', '--prot', '9');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^airmail serve: unknown option '--prot' \(did you mean --port\?\)/);
    expect(bad.stderr).toContain('usage:');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it('--help lists every publish option the README documents (--create, --sample-format, ... were missing)', async () => {
    const help = await airmail('publish', '--help');
    for (const flag of ['--create', '--sample-format', '--inputs', '--outputs', '--feature-source', '--package', '--sha256', '--language', '--language-version']) {
      expect(help.stdout).toMatch(new RegExp(`\\[${flag}[ \\]]`));
    }
    const bare = await airmail('registry');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^airmail registry: needs a subcommand: serve, query, resolve, alias or metrics\n/);
  });

  it('run names a missing input with the right code', async () => {
    const r = await airmail('run', 'complimentary_items');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^airmail run: .*client_id.*\[INPUT_INVALID\]\n$/);
  });
});

describe('airmail validate checks a file as the server would (new-user audit)', () => {
  it('a demo file named alone uses the names its directory defines; a directory is validated whole', async () => {
    const one = await airmail('validate', 'configs/complimentary_items.yaml');
    expect(one.stderr).toBe('');
    expect([one.code, one.stdout]).toEqual([0, expect.stringMatching(/^ok: complimentary_items@[0-9a-f]+\n$/)]);
    const dir = await airmail('validate', 'configs');
    expect(dir.code).toBe(0);
    expect(dir.stdout).toMatch(/^ok: .*complimentary_items@.*MyPipeline@/);
  });

  it('reports what a named file breaks in another file, and only counts what another file breaks on its own', async () => {
    const dir = await demoConfigs();
    await writeFile(join(dir, 'unrelated.yaml'), 'pipeline: {name: unrelated, item_type: sku_id, initialization: {includes: [NoSuchThing]}}\n');
    const fine = await airmail('validate', join(dir, 'my_pipeline.yaml'));
    expect(fine.code).toBe(0);
    expect(fine.stderr).toMatch(/^note: 1 problem\(s\) in other files of /);
    const demo = await readFile(join(dir, 'demo.yaml'), 'utf8');
    await writeFile(join(dir, 'demo.yaml'), demo.replace(/^ {2}MatchDepartment:/m, '  MatchDept:'));
    const broke = await airmail('validate', join(dir, 'demo.yaml'));
    expect(broke.code).toBe(1);
    expect(broke.stderr).toMatch(/complimentary_items\.yaml:\d+:\d+: .*'MatchDepartment'.*\[UNKNOWN_OPERATOR\]/);
    expect(broke.stderr).not.toContain('unrelated.yaml:');
  });
});

describe('issue: validate took no flags (`validate FILE --registry URL` read --registry as a file)', () => {
  it('--registry resolves registry models, before or after the files; without it they are reported', async () => {
    const dir = await tempDir('airmail-validate-registry-');
    const folder = join(dir, 'registry');
    const store = await RegistryStore.open(folder, { create: true });
    await publishModel({ artifact: new TextEncoder().encode('export function predict(c) { return { y: Float64Array.from(c.x, (v) => v * 2) }; }\n'), flavor: 'js', name: 'scale', description: 'y = 2x', sample: [{ x: 1 }] }, store);
    await mkdir(join(dir, 'configs'));
    const file = join(dir, 'configs', 'models.yaml');
    await writeFile(file, 'deployments:\n- {name: latest, model: {tags: {name: scale}}}\n');
    const env = { AIRMAIL_REGISTRY: '' };
    for (const args of [[file, '--registry', folder], ['--registry', pathToFileURL(folder).href, file]]) {
      const r = await airmailCli(env, 'validate', ...args);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code).toBe(0);
    }
    const none = await airmailCli(env, 'validate', file);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('models.yaml');
  });

  it('--configs DIR checks a file with that directory\'s configs, or the directory alone', async () => {
    const elsewhere = join(await tempDir(), 'uses-demo.yaml');
    await writeFile(elsewhere, 'pipeline: {name: uses_demo, item_type: sku_id, initialization: {includes: [AvailableInventory]}}\n');
    const alone = await airmailCli({}, 'validate', elsewhere);
    expect(alone.code).toBe(1);
    const withDemo = await airmailCli({}, 'validate', '--configs', 'configs', elsewhere);
    expect([withDemo.code, withDemo.stdout]).toEqual([0, expect.stringMatching(/^ok: uses_demo@/)]);
    // A file named like one of the directory's replaces it there, as dropping it in would.
    const replacing = join(await tempDir(), 'complimentary_items.yaml');
    await writeFile(replacing, (await readFile(join(ROOT, 'configs/complimentary_items.yaml'), 'utf8')).replace('n: 10', 'n: 5'));
    const replaced = await airmailCli({}, 'validate', '--configs', 'configs', replacing);
    expect([replaced.code, replaced.stdout]).toEqual([0, expect.stringMatching(/^ok: complimentary_items@/)]);
    const dir = await airmailCli({}, 'validate', '--configs', 'configs');
    expect([dir.code, dir.stdout]).toEqual([0, expect.stringMatching(/MyPipeline@/)]);
  });

  it('serve --reload-settle-ms takes a whole number of milliseconds', async () => {
    const r = await airmailCli({}, 'serve', '--reload-settle-ms', 'soon');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("airmail serve: --reload-settle-ms must be a whole number from 0 to 60000, got 'soon'");
  });
});

describe('CLI failures are one line and a non-zero exit (new-user audit)', () => {
  const oneLine = (r: { stderr: string }, re: RegExp): void => {
    expect(r.stderr.trim()).toMatch(re);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  };

  it('a missing file, a mistyped port, an input without =value, a missing configs directory', async () => {
    const missing = await airmail('validate', '/nonexistent.yaml');
    expect(missing.code).toBe(1);
    oneLine(missing, /^airmail validate: cannot read \/nonexistent\.yaml: no such file or directory$/);
    const port = await airmail('serve', '--port', 'abc');
    expect(port.code).toBe(2);
    oneLine(port, /^airmail serve: --port must be a whole number from 0 to 65535, got 'abc'$/);
    const input = await airmail('run', 'MyPipeline', '--input', 'user_id');
    expect(input.code).toBe(2);
    oneLine(input, /^airmail run: --input expects key=value, got 'user_id'$/);
    const configs = await airmail('serve', '--configs', '/nonexistent-airmail-configs', '--port', '0');
    expect(configs.code).toBe(1);
    oneLine(configs, /^airmail serve: the configs directory \/nonexistent-airmail-configs does not exist \[CONFIG_INVALID\]$/);
    expect(existsSync('/nonexistent-airmail-configs')).toBe(false);
  });

  it('a port in use is one line and the process exits', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const port = (taken.address() as AddressInfo).port;
      const r = await airmail('serve', '--host', '127.0.0.1', '--port', String(port), '--threads', '1');
      expect(r.code).toBe(1);
      oneLine(r, new RegExp(`^airmail serve: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use \\(EADDRINUSE\\)`));
    } finally {
      taken.close();
    }
  });
});

describe('custom operators from a folder', () => {
  it('loads every operator a folder exports and runs them on the worker pool', async () => {
    const dir = await tempDir('airmail-custom-');
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data/items.json'), JSON.stringify([{ id: 1, color: 'red', w: 3 }, { id: 2, color: 'blue', w: 5 }, { id: 3, color: 'red', w: 7 }]));
    await writeFile(join(dir, 'custom.yaml'), [
      'operator_paths: [' + JSON.stringify(join(ROOT, 'test/fixtures/operators')) + ']',
      'datasets:',
      '  items: {path: data/items.json, key: id}',
      'pipeline:',
      '  name: custom',
      '  item_type: id',
      '  items: items',
      '  initialization:',
      '    includes: [{name: Ids, parameters: {ids: [1, 2, 3]}}]',
      '    scorer: [{name: Col, parameters: {column: w}}]',
      '  operations:',
      '  - {name: Eq, parameters: {column: color, value: red}}',
      '  - {name: Sort, parameters: {by: score, desc: true}}',
      '',
    ].join('\n'));
    const srv = await server({ configs: dir });
    try {
      expect(srv.startErrors).toEqual([]);
      const res = await request(`${srv.url}/pipelines/custom`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      const body = (await res.body.json()) as { items: { id: number; score: number }[] };
      expect(res.statusCode, JSON.stringify(body)).toBe(200);
      expect(body.items, JSON.stringify(body)).toEqual([{ id: 3, score: 7 }, { id: 1, score: 3 }]);
    } finally {
      await srv.close();
    }
  });
});

describe('pipeline versions', () => {
  it('are the same in every process for the same configs (a content hash, the pinned model copy by its content)', async () => {
    const dir = await demoConfigs();
    const run = async (): Promise<string> => (await exec(process.execPath, [BIN, 'validate', dir], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } })).stdout;
    const [a, b] = [await run(), await run()];
    expect(a).toMatch(/complimentary_items@[0-9a-f]{12}/);
    expect(b).toBe(a);
  }, 60_000);
});

describe('airmail validate and remote datasets', () => {
  it('fetches an http dataset as the server would, instead of calling it unreadable', async () => {
    const { createServer: createHttpServer } = await import('node:http');
    const upstream = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify([{ id: 1, w: 0.5 }, { id: 2, w: 0.25 }]));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    try {
      const dir = await tempDir();
      const port = (upstream.address() as AddressInfo).port;
      await writeFile(join(dir, 'p.yaml'), `datasets:\n  remcat: {http: {url: 'http://127.0.0.1:${port}/cat', format: json}, key: id}\npipeline: {name: remote_p, item_type: id, initialization: {includes: [{name: Lookup, parameters: {dataset: remcat}}]}, return: [id, w]}\n`);
      const r = await airmailCli({}, 'validate', dir);
      expect([r.code, r.stdout, r.stderr]).toEqual([0, expect.stringMatching(/^ok: remote_p@/), '']);
    } finally {
      await new Promise((r) => upstream.close(r));
    }
  }, 60_000);
});
