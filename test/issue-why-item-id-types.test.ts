/**
 * Issue (audit): `/why` with an item id of the other type than the pipeline's item ids gave an
 * unclear answer. On integer ids, any text Number() reads was taken as an id: "0x7b" and "1e2"
 * explained items 123 and 100, which nobody asked about, and "00123" or " 7" were read silently.
 * On text ids, a number was echoed back as a number and answered `unknown_item` with no word that
 * the ids are text, while the dataset held "00123". Now an integer id column takes a number or its
 * digits as JSON writes them (else a 422 at /item saying how to write it), and on text ids a number
 * is read as its text, answered as text, and an unknown one names the ids holding the same number.
 * Through an experiment too (its arm's items decide).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

type Answer = { status: number; body: { item?: unknown; code?: string; errors?: { path: string; message: string }[]; why?: { verdict: string; reason: string } } };
let srv: RunningServer;
const why = async (name: string, item: unknown, inputs: Record<string, unknown> = {}): Promise<Answer> => {
  const r = await fetch(`${srv.url}/pipelines/${name}/why`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs, item }) });
  return { status: r.status, body: (await r.json()) as Answer['body'] };
};

beforeAll(async () => {
  const dir = await tempDir('airmail-why-id-types-');
  await writeFile(join(dir, 'text.json'), JSON.stringify([{ sku: '00123' }, { sku: 'abc' }, { sku: '7' }]));
  await writeFile(join(dir, 'num.json'), JSON.stringify([{ sku_id: 123 }, { sku_id: 7 }, { sku_id: 100 }]));
  await writeFile(join(dir, 'p.yaml'), `
datasets:
  text: {path: text.json, key: sku}
  num: {path: num.json, key: sku_id}
pipelines:
- {name: by_text, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: text}}]}}
- {name: by_number, item_type: sku_id, inputs: {u: {type: integer, default: 0}}, initialization: {includes: [{name: Lookup, parameters: {dataset: num}}]}}
- {name: by_number_2, item_type: sku_id, inputs: {u: {type: integer}}, initialization: {includes: [{name: Lookup, parameters: {dataset: num}}]}}
experiments:
- {name: feed, unit: $u, arms: [{pipeline: by_number, weight: 1}, {pipeline: by_number_2, weight: 1}]}
`);
  srv = await server({ configs: dir, threads: 0 });
  expect(srv.startErrors).toEqual([]);
});
afterAll(() => srv?.close());

describe('/why on integer item ids', () => {
  it('takes a number or its digits, and refuses other spellings rather than explaining another item', async () => {
    for (const item of [123, '123']) expect(await why('by_number', item)).toMatchObject({ status: 200, body: { item: 123, why: { verdict: 'kept' } } });
    const refused: [string, string][] = [
      ['0x7b', 'not "0x7b"'], // Number() reads 123: it explained item 123
      ['1e2', 'not "1e2": write it as 100'], // it explained item 100
      ['00123', 'not "00123": write it as 123'],
      [' 7', 'not " 7": write it as 7'],
      ['abc', 'not "abc"'],
    ];
    for (const [item, says] of refused) {
      const a = await why('by_number', item);
      expect([a.status, a.body.code, a.body.errors?.[0]?.path], item).toEqual([422, 'INPUT_INVALID', '/item']);
      expect(a.body.errors![0]!.message).toContain(`must be an integer sku_id (column 'sku_id' of dataset 'num' is int32), ${says}`);
    }
  });

  it('through an experiment: the arm its inputs pick decides', async () => {
    expect(await why('feed', '0x7b', { u: 1 })).toMatchObject({ status: 422, body: { code: 'INPUT_INVALID', errors: [{ path: '/item' }] } });
    expect(await why('feed', '7', { u: 1 })).toMatchObject({ status: 200, body: { item: 7, why: { verdict: 'kept' } } });
  });
});

describe('/why on text item ids', () => {
  it('takes text as written, leading zeros kept', async () => {
    expect(await why('by_text', '00123')).toMatchObject({ status: 200, body: { item: '00123', why: { verdict: 'kept' } } });
    expect(await why('by_text', '123')).toMatchObject({ status: 200, body: { item: '123', why: { verdict: 'unknown_item' } } });
  });

  it('reads a number as its text, answers it as text, and names the text ids holding the same number', async () => {
    const a = await why('by_text', 123);
    expect(a).toMatchObject({ status: 200, body: { item: '123', why: { verdict: 'unknown_item' } } });
    expect(a.body.why!.reason).toMatch(/^no item 123 in dataset text .*; its ids are text, and "00123" is the same number written otherwise: ask for that id as written$/);
    expect(await why('by_text', 7)).toMatchObject({ status: 200, body: { item: '7', why: { verdict: 'kept' } } });
  });
});
