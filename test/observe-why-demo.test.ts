/**
 * "Why not this item?" on the demo served by `npm start` (configs/): the
 * README's example request, run exactly as written, answers what the README
 * shows.
 */
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import type { WhyAnswer } from '../engine/observe/types.js';
import { demoConfigs, ROOT, server } from './helpers.js';

let srv: RunningServer;

async function post(path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await request(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: r.statusCode, json: JSON.parse(await r.body.text()) as Record<string, unknown> };
}

/** The README's why example: the path, the -d body and the answer shown under it. */
function readmeExample(): { path: string; body: string; verdict: string; reason: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /curl -s -XPOST localhost:8080(\/pipelines\/\w+\/why)[^\n]*\\\n\s*-d '([^']*)'\n# (\{"why": .*)\n/.exec(readme);
  expect(m, 'the why example in the README').not.toBeNull();
  const shown = m![3]!;
  const verdict = /"verdict": "(\w+)"/.exec(shown)![1]!;
  const reason = JSON.parse(`"${/"reason": "((?:[^"\\]|\\.)*)"/.exec(shown)![1]!}"`) as string;
  return { path: m![1]!, body: m![2]!, verdict, reason };
}

describe('why on the demo configs', () => {
  beforeAll(async () => {
    srv = await server({ configs: join(ROOT, 'configs') });
  }, 120_000);
  afterAll(async () => srv?.close());

  it("the README's why example answers as the README shows", async () => {
    const ex = readmeExample();
    const r = await post(ex.path, ex.body);
    expect(r.status).toBe(200);
    const why = r.json['why'] as WhyAnswer;
    expect(why.verdict).toBe(ex.verdict);
    expect(why.reason).toBe(ex.reason);
  });

  const ask = (item: unknown, extra: Record<string, unknown> = {}): Promise<{ status: number; json: Record<string, unknown> }> =>
    post('/pipelines/complimentary_items/why', JSON.stringify(Object.assign({ inputs: { client_id: 17, product_id: 42 }, item }, extra)));

  it('an item of the wrong type for the int32 item id column is a 422 naming /item', async () => {
    for (const item of ['abc', 1.5, 2 ** 40]) {
      const r = await ask(item);
      expect(r.status, String(item)).toBe(422);
      expect(r.json['code']).toBe('INPUT_INVALID');
      expect(r.json['errors']).toEqual([expect.objectContaining({ path: '/item' })]);
      // The refusal names the pipeline in question, as a run's refusals do.
      expect(r.json['pipeline']).toBe('complimentary_items');
      expect(r.json['version']).toMatch(/^[0-9a-f]{12}$/);
    }
  });

  it('an id absent from the items dataset is unknown_item, not not_included', async () => {
    for (const item of [99999999, -1]) {
      const r = await ask(item);
      expect(r.status).toBe(200);
      const why = r.json['why'] as WhyAnswer;
      expect(why.verdict).toBe('unknown_item');
      expect(why.reason).toMatch(new RegExp(`^no item ${item} in dataset catalog`));
    }
    // A real item no include produced stays not_included (sku 1 is in the catalog).
    const real = (await ask(1)).json['why'] as WhyAnswer;
    expect(real.verdict).toBe('not_included');
  });

  it('an integer string is the item it names', async () => {
    const r = await ask('87');
    expect(r.status).toBe(200);
    expect((r.json['why'] as WhyAnswer).verdict).toBe('excluded');
  });

  it('inputs given at the top level get a hint to put them under "inputs"', async () => {
    const r = await post('/pipelines/complimentary_items/why', JSON.stringify({ client_id: 17, product_id: 42, item: 87 }));
    expect(r.status).toBe(422);
    expect(r.json['reason']).toMatch(/client_id.* is required/);
    expect(r.json['reason']).toContain('the inputs go under "inputs"');
    expect(r.json['pipeline']).toBe('complimentary_items');
    const bad = await post('/pipelines/complimentary_items/why', 'not json');
    expect(bad.status).toBe(400);
    expect(bad.json['pipeline']).toBe('complimentary_items');
    const unknown = await post('/pipelines/nope/why', '{"item": 1}');
    expect(unknown.status).toBe(404);
    expect(unknown.json['pipeline']).toBeNull();
  });
});

describe('why on a Limit in a pipeline without a score column', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await demoConfigs();
    const pipeline = (name: string, n: number): string => [
      'pipeline:', `  name: ${name}`, '  item_type: sku_id', '  initialization:', '    includes:', '    - name: AvailableInventory',
      '  operations:', '  - name: Limit', `    parameters: {n: ${n}}`, '  return: [sku_id]', '',
    ].join('\n');
    await writeFile(join(dir, 'first_ten.yaml'), pipeline('first_ten', 10));
    await writeFile(join(dir, 'first_eleven.yaml'), pipeline('first_eleven', 11));
    srv = await server({ configs: dir });
  }, 120_000);
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the 11th item is cut by Limit(n=10) at rank 11 in the order entering it', async () => {
    const ten = await post('/pipelines/first_ten', JSON.stringify({ client_id: 17 }));
    const eleven = await post('/pipelines/first_eleven', JSON.stringify({ client_id: 17 }));
    const ids = (r: { json: Record<string, unknown> }): number[] => (r.json['items'] as { sku_id: number }[]).map((i) => i.sku_id);
    const extra = ids(eleven).filter((id) => !ids(ten).includes(id));
    expect(extra).toHaveLength(1);
    const r = await post('/pipelines/first_ten/why', JSON.stringify({ inputs: { client_id: 17 }, item: extra[0] }));
    const why = r.json['why'] as WhyAnswer;
    expect(why.verdict).toBe('cut');
    expect(why.removedBy?.step).toBe('Limit');
    expect(why.rank).toBe(11);
    expect(why.of).toBe(why.removedBy?.rowsIn);
    expect(why.reason).toMatch(/rank 11 of \d+ in the order entering Limit, and cut by Limit\(n=10\)/);
  });
});
