/**
 * The README's examples, run as written (each block is read from README.md by the heading or sentence
 * before it, never copied here, so the README cannot drift from what the engine does):
 * - "Try the demo": every curl of the block answers 200, and a run has the fields of "A response is always";
 * - the annotated config under "## Writing pipelines", saved as a file with the demo's data beside it
 *   (and the JSON/CSV files it names), loads and answers what the demo's complimentary_items answers;
 * - "In a pipeline" (a registry ModelScore) and "Model endpoints" (a deployment) against a registry
 *   holding the demo model as psale: the ModelScore block loaded as written (it mapped only c0 and c1
 *   of the model's eight client inputs, so it was refused at load), with `models` named as the README says.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { closeRegistryWorld, ROOT, server, tempDir } from './helpers.js';

let readme = '';
/** The body of the first ```LANG block after `marker`. */
function block(marker: string, lang: string): string {
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README: no '${marker}'`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme.slice(at));
  if (!m) throw new Error(`README: no ${lang} block after '${marker}'`);
  return m[1]!;
}

let demo: RunningServer | undefined;
beforeAll(async () => {
  readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  demo = await server({ configs: join(ROOT, 'configs'), threads: 1, watch: false });
});
afterAll(async () => demo?.close());

type Answer = { items: Record<string, unknown>[]; error: boolean; reason: string | null; models?: Record<string, string> };
const post = async (base: string, path: string, body: unknown): Promise<{ status: number; res: Answer }> => {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, res: (await r.json()) as Answer };
};

describe('README: try the demo', () => {
  it('every curl answers, and a run has the fields of the response shown', async () => {
    const curls = block('Try the demo', 'bash').split('\n').filter((l) => l.startsWith('curl'));
    expect(curls.length).toBeGreaterThanOrEqual(4);
    const shape = JSON.parse(block('A response is always', 'json')) as Answer;
    for (const line of curls) {
      const url = /'?(localhost:8080[^'\s]*)'?/.exec(line)![1]!.replace('localhost:8080', demo!.url);
      const isPost = line.includes('-XPOST');
      const body = isPost ? /-d '([^']*)'/.exec(readme.slice(readme.indexOf(line)))![1]! : undefined;
      const r = await fetch(url, isPost ? { method: 'POST', headers: { 'content-type': 'application/json' }, body } : {});
      expect([line, r.status]).toEqual([line, 200]);
      const res = (await r.json()) as Answer;
      if (!url.endsWith('/explain') && !url.endsWith('/pipelines')) {
        for (const k of Object.keys(shape)) expect(res).toHaveProperty(k);
        expect(Object.keys(res.items[0]!).sort()).toEqual(Object.keys(shape.items[0]!).sort());
        expect(res.error).toBe(false);
      }
    }
  });
});

describe('README: the annotated config of "Writing pipelines"', () => {
  it('loads as written and answers what the demo answers', async () => {
    const dir = await tempDir('airmail-readme-config-');
    await mkdir(join(dir, 'data'));
    for (const f of ['catalog', 'clients', 'inventory']) await cp(join(ROOT, 'configs', 'data', `${f}.arrow`), join(dir, 'data', `${f}.arrow`));
    await cp(join(ROOT, 'configs', 'models'), join(dir, 'models'), { recursive: true });
    // The files it names that the demo keeps in other formats: purchases as JSON rows, no returns, a stores CSV.
    const purchases = tableFromIPC(await readFile(join(ROOT, 'configs', 'data', 'purchases.arrow')));
    await writeFile(join(dir, 'data', 'purchases.json'), JSON.stringify(purchases.toArray().map((r) => ({ client_id: Number(r.client_id), sku_id: Number(r.sku_id) }))));
    await writeFile(join(dir, 'data', 'returns.json'), '[]');
    await writeFile(join(dir, 'data', 'stores.csv'), 'store_id,zip\n1,007\n');
    await writeFile(join(dir, 'app.yaml'), block('## Writing pipelines', 'yaml'));
    const srv = await server({ configs: dir, threads: 1, watch: false });
    try {
      expect(srv.startErrors).toEqual([]);
      const inputs = { client_id: 17, product_id: 42 };
      const mine = await post(srv.url, '/pipelines/complimentary_items', inputs);
      const theirs = await post(demo!.url, '/pipelines/complimentary_items', inputs);
      expect([mine.status, mine.res.error, mine.res.items.length]).toEqual([200, false, 10]);
      expect(mine.res.items).toEqual(theirs.res.items);
    } finally {
      await srv.close();
    }
  }, 60_000);
});

describe('README: a registry model in a pipeline and in a deployment', () => {
  let dir: string | undefined;
  let srv: RunningServer | undefined;
  afterAll(async () => closeRegistryWorld(srv, undefined, dir));

  it('loads both blocks as written; responses name the model under the scorer column', async () => {
    dir = await tempDir('airmail-readme-registry-');
    const store = await RegistryStore.open(join(dir, 'registry'), { create: true });
    const row: Record<string, number> = {};
    for (let j = 0; j < 16; j++) row[`f${j}`] = 0.1 * j;
    for (let j = 0; j < 8; j++) row[`c${j}`] = 0.05 * j;
    const artifact = new Uint8Array(await readFile(join(ROOT, 'configs', 'models', 'psale_demo.onnx')));
    await publishModel({ artifact, flavor: 'onnx', name: 'psale', description: 'p(sale)', tags: { stage: 'prod' }, sample: [row] }, store);
    const configs = join(dir, 'configs');
    await mkdir(configs);
    await cp(join(ROOT, 'configs', 'data'), join(configs, 'data'), { recursive: true });
    const demoYaml = await readFile(join(ROOT, 'configs', 'demo.yaml'), 'utf8');
    await writeFile(join(configs, 'base.yaml'), demoYaml.slice(0, demoYaml.indexOf('\noperators:')));
    const scorer = block('**In a pipeline**', 'yaml').replace(/^/gm, '    ');
    await writeFile(join(configs, 'p.yaml'), [
      'pipeline:', '  name: scored', '  item_type: sku_id', '  initialization:',
      '    includes: [{name: Lookup, parameters: {dataset: inventory, where: {warehouse_id: $client.warehouse_id}}}]',
      '    scores:', scorer, '  operations: [{name: Limit, parameters: {n: 3}}]', ''].join('\n'));
    await writeFile(join(configs, 'deploy.yaml'), block('**Model endpoints.**', 'yaml'));
    srv = await server({ configs, threads: 1, watch: false, registry: join(dir, 'registry'), modelHub: { cacheDir: join(dir, 'cache'), log: () => undefined } });
    expect(srv.startErrors).toEqual([]);
    const run = await post(srv.url, '/pipelines/scored', { client_id: 17 });
    expect([run.status, run.res.error, run.res.items.length]).toEqual([200, false, 3]);
    const said = /Responses then carry `"models": \{"([a-z_]+)": "psale@\d+"\}`/.exec(readme);
    expect(run.res.models).toEqual({ [said![1]!]: 'psale@1' });
    const pred = await post(srv.url, '/models/psale/predict', { rows: [row] });
    expect(pred.status).toBe(200);
    expect(Object.keys((pred.res as unknown as { predictions: Record<string, number>[] }).predictions[0]!)).toEqual(['psale']);
  }, 60_000);
});

describe('README: remote sources', () => {
  it('the HttpSource preset loads as written, and a service that never answers fails as the README shows', async () => {
    const { createServer } = await import('node:http');
    const hang = createServer(() => undefined);
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const port = (hang.address() as { port: number }).port;
    const dir = await tempDir('airmail-readme-remote-');
    await cp(join(ROOT, 'configs', 'data'), join(dir, 'data'), { recursive: true });
    const demoYaml = await readFile(join(ROOT, 'configs', 'demo.yaml'), 'utf8');
    await writeFile(join(dir, 'base.yaml'), demoYaml.slice(0, demoYaml.indexOf('\noperators:')) +
      '\npipeline: {name: inv, item_type: sku_id, initialization: {includes: [AvailableInventory]}}\n');
    await writeFile(join(dir, 'remote.yaml'), block('Give the source a name in `operators:`', 'yaml'));
    process.env['INVENTORY_URL'] = `http://127.0.0.1:${port}`;
    const srv = await server({ configs: dir, threads: 1, watch: false });
    try {
      expect(srv.startErrors).toEqual([]);
      const { status, res } = await post(srv.url, '/pipelines/inv', { client_id: 17 });
      const shown = JSON.parse(block('When the source fails after its retries', 'json')) as Answer & { code: string; operator: string };
      expect(status).toBe(200);
      expect(res).toMatchObject({ items: [], error: true, code: shown.code, operator: shown.operator });
      const tail = (s: string): string => s.slice(s.indexOf(') failed: ')).replace(/http:\/\/[^/]+/, 'http://HOST');
      expect(tail(res.reason!)).toBe(tail(shown.reason!));
    } finally {
      delete process.env['INVENTORY_URL'];
      await srv.close();
      hang.closeAllConnections();
      hang.close();
    }
  }, 60_000);
});

/** The demo's datasets and contexts (demo.yaml up to its presets), beside `extra` YAML, in a new folder. */
async function demoBase(prefix: string, extra: string): Promise<string> {
  const dir = await tempDir(prefix);
  await cp(join(ROOT, 'configs', 'data'), join(dir, 'data'), { recursive: true });
  const demoYaml = await readFile(join(ROOT, 'configs', 'demo.yaml'), 'utf8');
  await writeFile(join(dir, 'base.yaml'), demoYaml.slice(0, demoYaml.indexOf('\noperators:')) + '\n' + extra);
  return dir;
}
/** A pipeline of the demo's inventory taking `client_id`, as YAML list entries of `pipelines:`. */
const invPipeline = (name: string, warehouse: number, clientId = '{type: integer}'): string =>
  `- {name: ${name}, item_type: sku_id, inputs: {client_id: ${clientId}}, ` +
  `initialization: {includes: [{name: Lookup, parameters: {dataset: inventory, where: {warehouse_id: ${warehouse}}}}]}}\n`;

describe('README: the new sections\' blocks, run as written', () => {
  it('"Batch requests": the curl answers the shape shown (one 200, one 422 entry, failed 1)', async () => {
    const text = block('### Batch requests', 'bash');
    const body = /-d '([^']*)'/.exec(text)![1]!;
    expect(text).toContain('localhost:8080/pipelines/complimentary_items/batch');
    const r = await fetch(`${demo!.url}/pipelines/complimentary_items/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(r.status).toBe(200);
    const res = (await r.json()) as { results: Array<Record<string, unknown>>; failed: number; pipeline: string; version: string; took_ms: number };
    const shown = /"failed": (\d+), "pipeline": "([^"]+)"/.exec(text)!;
    expect({ failed: res.failed, pipeline: res.pipeline }).toEqual({ failed: Number(shown[1]), pipeline: shown[2] });
    expect(res.results.map((e) => [e['index'], e['status'], e['code']])).toEqual([[0, 200, undefined], [1, 422, 'INPUT_INVALID']]);
    for (const k of ['items', 'error', 'reason', 'took_ms']) expect(res.results[0]).toHaveProperty(k);
    expect(res.results[1]!['reason']).toContain("inputs of pipeline 'complimentary_items' are invalid: ");
    expect(res.results[1]).toHaveProperty('errors');
  });

  it('"Fallback pipelines": both forms of the block load, and an empty run is answered by the fallback', async () => {
    const lines = block('### Fallback pipelines', 'yaml').split('\n').filter((l) => l.trim() !== '');
    const forms = [lines[0]!, lines.slice(1).join('\n')];
    expect(forms[1]).toMatch(/^\s+fallback:\n\s+pipeline: trending_now/);
    for (const form of forms) {
      const fb = form.replace(/^ {2}/gm, '      ');
      const dir = await demoBase('airmail-readme-fallback-', 'pipelines:\n' + invPipeline('trending_now', 2) +
        '- name: for_you\n  item_type: sku_id\n  inputs: {client_id: {type: integer}}\n' +
        '  initialization: {includes: [{name: Lookup, parameters: {dataset: inventory, where: {warehouse_id: 999}}}]}\n' +
        fb.replace(/^ {6}/gm, '  ') + '\n');
      const srv = await server({ configs: dir, threads: 1, watch: false });
      try {
        expect(srv.startErrors).toEqual([]);
        const { status, res } = await post(srv.url, '/pipelines/for_you', { client_id: 17 });
        expect(status).toBe(200);
        expect(res).toMatchObject({ pipeline: 'trending_now', fallback: { from: 'for_you', cause: 'empty' } });
      } finally {
        await srv.close();
      }
    }
  }, 60_000);

  it('"A/B experiments": the experiment loads as written; its curls and the python one-liner agree with the answer shown', async () => {
    // The `default:` arm may not require the unit (the block says so): v1 gives client_id a default.
    const dir = await demoBase('airmail-readme-experiment-', 'pipelines:\n' +
      invPipeline('home_feed_v1', 2, '{type: integer, default: 0}') + invPipeline('home_feed_v2', 3));
    await writeFile(join(dir, 'experiments.yaml'), block('## A/B experiments', 'yaml'));
    const srv = await server({ configs: dir, threads: 1, watch: false });
    try {
      expect(srv.startErrors).toEqual([]);
      const text = block('## A/B experiments', 'bash');
      const shown = /"pipeline": "([^"]+)".*\n#\s+"experiment": (\{[^}]*\})/.exec(text)!;
      const curls = text.split('\n').filter((l) => l.startsWith('curl'));
      expect(curls).toHaveLength(3);
      const get = async (line: string): Promise<Record<string, unknown>> => {
        const url = /'?(localhost:8080[^'\s]*)'?/.exec(line)![1]!.replace('localhost:8080', srv.url);
        const r = await fetch(url);
        expect([line, r.status]).toEqual([line, 200]);
        return (await r.json()) as Record<string, unknown>;
      };
      const assigned = await get(curls[0]!);
      expect({ pipeline: assigned['pipeline'], experiment: assigned['experiment'] }).toEqual({ pipeline: shown[1], experiment: JSON.parse(shown[2]!) });
      expect(await get(curls[1]!)).toMatchObject({ pipeline: 'home_feed_v2', experiment: { arm: 'home_feed_v2', assignment: 'forced' } });
      expect(await get(curls[2]!)).toHaveProperty('arms');
      const py = block('To redo it offline', 'bash').trim();
      const { execFileSync } = await import('node:child_process');
      const out = execFileSync('bash', ['-c', py], { encoding: 'utf8' }).trim();
      const e = assigned['experiment'] as { bucket: number; arm: string };
      expect(out).toBe(`${e.bucket} ${e.arm}`);
    } finally {
      await srv.close();
    }
  }, 60_000);
});
