/**
 * A business user who only writes YAML, making the usual mistakes in a pipeline file dropped
 * next to the demo's definitions: each must be reported once, at the right file, line and column,
 * in a sentence that says what to write instead (a "did you mean" where there is one), and
 * never buried among follow-on errors. One row per mistake: what is written, the fragment the
 * message must hold, and where.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigSet, type ConfigSource } from '../engine/config/load.js';
import { formatDiagnostic } from '../engine/errors.js';
import { demoConfigs, OPS } from './helpers.js';

const MINE = `pipeline:
  name: mine
  item_type: sku_id
  initialization:
    includes:
    - name: AvailableInventory
    scores:
    - name: ClickRate
      weight: 2
  operations:
  - name: Sort
    parameters: {by: score, desc: true}
  - name: Limit
    parameters: {n: 5}
  return: [sku_id, score]
`;
const edit = (from: string, to: string): string => {
  if (!MINE.includes(from)) throw new Error(`no '${from}' in the base pipeline`);
  return MINE.replace(from, to);
};
const STORES = (value: string): string => `datasets:
  stores: {path: data/stores.csv, key: store_id, columns: {zip: string}}
pipeline:
  name: st
  item_type: store_id
  initialization:
    includes:
    - {name: Lookup, parameters: {dataset: stores, where: {zip: ${value}}}}
`;

/** [mistake, text of mine.yaml, fragment of the one message, line:col] */
const MISTAKES: [string, string, string, string][] = [
  ['a tab for indentation', edit('    - name: AvailableInventory', '\t- name: AvailableInventory'), 'a tab is used for indentation: YAML indents with spaces only', '6:1'],
  ['a list where a mapping belongs', edit('    parameters: {by: score, desc: true}', '    parameters:\n    - by: score\n    - desc: true'), "'parameters' must be a mapping, not [{\"by\":\"score\"},{\"desc\":true}]: write each 'key: value' without the '- ' in front of it", '12:5'],
  ['a mapping where a list belongs', edit('    includes:\n    - name: AvailableInventory', '    includes:\n      name: AvailableInventory'), "'includes' must be a list, not {\"name\":\"AvailableInventory\"}: start each entry of a list with '- '", '5:5'],
  ['scores as a mapping (no follow-on "score is written by no step")', edit('    scores:\n    - name: ClickRate\n      weight: 2', '    scores:\n      ClickRate: {weight: 2}'), "'scores' must be a list", '7:5'],
  ['include: singular (no follow-on "needs at least one source")', edit('includes:', 'include:'), "'include' is not a known property (did you mean 'includes'?)", '5:5'],
  ['exclude: singular', edit('    scores:', '    exclude:\n    - name: PreviouslyPurchased\n    scores:'), "(did you mean 'excludes'?)", '7:5'],
  ['operation: singular', edit('  operations:', '  operation:'), "(did you mean 'operations'?)", '10:3'],
  ['parameter: singular', edit('    parameters: {by: score', '    parameter: {by: score'), "(did you mean 'parameters'?)", '12:5'],
  ['a built-in in lower case', edit('- name: Sort', '- name: sort'), "(did you mean 'Sort'?)", '11:5'],
  ['a preset in the wrong case', edit('- name: AvailableInventory', '- name: availableInventory'), "(did you mean 'AvailableInventory'?)", '6:7'],
  ['a context name misspelt', edit('  operations:', '  operations:\n  - name: Match\n    parameters: {column: size, value: $clent.size}'), "context 'clent', which neither the pipeline nor a shared contexts: section declares (did you mean 'client'?)", '12:32'],
  ['a preset used with a parameter it does not take', edit('    - name: AvailableInventory', '    - name: AvailableInventory\n      parameters: {warehouse: 2}'), "AvailableInventory (Lookup): 'warehouse' is not a known property", '7:20'],
  ['weight: "2"', edit('weight: 2', 'weight: "2"'), "'weight' must be a number, not \"2\"", '9:7'],
  ['return: names a column no step writes', edit('return: [sku_id, score]', 'return: [sku_id, score, departmnt]'), "return names column 'departmnt', which no step writes and dataset 'catalog' does not have (did you mean 'department'?)", '15:27'],
  ['a file with only name:', 'pipeline:\n  name: onlyname\n', "'item_type' is required", '1:1'],
  ['a key given twice', edit('    parameters: {n: 5}', '    parameters: {n: 5}\n    parameters: {n: 6}'), "Map keys must be unique: 'parameters' appears twice", '15:5'],
  ['Sort by: misspelt', edit('{by: score,', '{by: scroe,'), "Sort reads column 'scroe', which no earlier step writes and the items dataset 'catalog' does not have (did you mean 'score'?)", '12:18'],
  ['Limit n: -1', edit('{n: 5}', '{n: -1}'), "Limit: 'n' must be >= 0", '14:18'],
  ['deadline_ms: 0', edit('  return:', '  deadline_ms: 0\n  return:'), "'deadline_ms' must be >= 1", '15:3'],
  ['Match value: null', edit('  operations:', '  operations:\n  - name: Match\n    parameters: {column: size, value: null}'), 'the value is null (YAML reads null, ~ and an empty value as null)', '12:32'],
  ['where: {zip: } left empty', STORES(''), "no row of column 'zip' of dataset 'stores' ever equals null; if you meant the text, quote it", '8:60'],
  ['zip: 007 unquoted', STORES('007'), '7 is a number (YAML reads an unquoted 007 as 7), but column \'zip\' of dataset \'stores\' holds text such as "007", which it can never equal: quote it, "007"', '8:60'],
  ['zip: 1e3 unquoted', STORES('1e3'), '1000 is a number (YAML reads an unquoted 1e3 as 1000)', '8:60'],
  ['a dataset path misspelt', `datasets:\n  stores: {path: data/store.csv, key: store_id}\n${MINE}`, "dataset 'stores': there is no file data/store.csv (looked for", '2:12'],
  ['a dataset path misspelt (did you mean)', `datasets:\n  stores: {path: data/store.csv, key: store_id}\n${MINE}`, "(did you mean 'data/stores.csv'?)", '2:12'],
  ['a CSV key with a header typo', `datasets:\n  stores: {path: data/stores.csv, key: storeid}\n${MINE}`, "dataset 'stores' has no column 'storeid' to use as its key (it has: store_id, zip, region)", '2:35'],
  ['desc: yes', edit('desc: true', 'desc: yes'), "Sort: 'desc' must be true or false, not \"yes\": YAML reads it as text; write true or false", '12:29'],
  ['n: "5" quoted', edit('{n: 5}', '{n: "5"}'), "Limit: 'n' must be an integer, not \"5\": write it without the quotes", '14:18'],
  ['item_type misspelt (one message, not one per step)', edit('item_type: sku_id', 'item_type: skuid'), "item_type 'skuid' is a column of no dataset (did you mean 'sku_id', the key of dataset 'catalog'?)", '3:3'],
  ['a dataset named as a step', edit('- name: AvailableInventory', '- name: inventory'), 'it is a dataset: read it with {name: Lookup, parameters: {dataset: inventory}}', '6:7'],
  ['a Lookup dataset misspelt', edit('    - name: AvailableInventory', '    - name: Lookup\n      parameters: {dataset: inventroy}'), "no dataset named 'inventroy' (did you mean 'inventory'?)", '7:20'],
  ['a list entry without its dash', edit('  - name: Limit\n', '  name: Limit\n'), "the indentation here cannot be read: a line below is indented deeper than the keys beside it", '13:9'],
  ['a key indented too deep', edit('    parameters: {n: 5}', '      parameters: {n: 5}'), "Indent the keys of one mapping equally, and start each list entry with '- '", '13:11'],
  ['a list parameter given one name', edit('  operations:', '  operations:\n  - name: Hydrate\n    parameters: {columns: department}'), "Hydrate: 'columns' must be a list, not \"department\": write it as a list, [department]", '12:18'],
  ['return: one name, not a list', edit('return: [sku_id, score]', 'return: sku_id'), "'return' must be a list, not \"sku_id\": write it as a list, [sku_id]", '15:3'],
  ['a context named after the input that keys it', edit('  item_type: sku_id', '  item_type: sku_id\n  context:\n    client_id: {dataset: clients, key: $client_id}'), "context 'client_id' is keyed by the request input of its own name", '5:35'],
  ['an input named like a context', edit('{n: 5}', '{n: $client}'), "$client would be a request input, but 'client' is a context: write $client.<column> for a column of its row", '14:18'],
];

let dir: string;
let demo: ConfigSource[];

beforeAll(async () => {
  dir = await demoConfigs();
  await writeFile(join(dir, 'data/stores.csv'), 'store_id,zip,region\n1,007,north\n2,1e3,south\n');
  const names = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
  demo = await Promise.all(names.map(async (f) => ({ path: join(dir, f), text: await readFile(join(dir, f), 'utf8') })));
});

const load = (files: Record<string, string>) => loadConfigSet([...demo, ...Object.entries(files).map(([f, text]) => ({ path: join(dir, f), text }))], { operators: OPS });

describe('the mistakes a YAML writer makes', () => {
  it.each(MISTAKES)('%s: one message, at the place, saying what to write', async (_what, text, fragment, where) => {
    const r = await load({ 'mine.yaml': text });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const shown = r.diagnostics.map(formatDiagnostic).join('\n');
    expect(r.diagnostics, shown).toHaveLength(1);
    const d = r.diagnostics[0]!;
    expect(d.message, shown).toContain(fragment);
    expect(`${d.line}:${d.col}`, shown).toBe(where);
    expect(d.file).toBe(join(dir, 'mine.yaml'));
  });

  it('a pipeline name given in two files names the other file', async () => {
    const r = await load({ 'mine.yaml': MINE, 'mine2.yaml': MINE });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ file: join(dir, 'mine2.yaml'), line: 2, col: 3, code: 'DUPLICATE_NAME' });
    expect(r.diagnostics[0]!.message).toContain(`is also defined in ${join(dir, 'mine.yaml')}`);
  });

  it('a shared context with a misspelt dataset is one message where it is defined and one per pipeline, not one per reference in the pipelines\' files', async () => {
    const demoText = demo.find((d) => d.path.endsWith('demo.yaml'))!.text;
    const broken = demoText.replace('client: {dataset: clients,', 'client: {dataset: clientz,');
    expect(broken).not.toBe(demoText);
    const r = await loadConfigSet([...demo.filter((d) => !d.path.endsWith('demo.yaml')), { path: join(dir, 'demo.yaml'), text: broken }, { path: join(dir, 'mine.yaml'), text: MINE }], { operators: OPS });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const shown = r.diagnostics.map(formatDiagnostic).join('\n');
    // The context's problem once, where it is defined; each pipeline using it says so once (3 pipelines, not 24 lines).
    expect(r.diagnostics, shown).toHaveLength(4);
    const line = broken.split('\n').findIndex((l) => l.includes('clientz')) + 1;
    const uses = r.diagnostics.filter((d) => d.message.includes("$client.warehouse_id: the shared context 'client' failed to load (its problem is reported in"));
    expect(uses.map((d) => d.file).sort(), shown).toEqual(['complimentary_items.yaml', 'mine.yaml', 'my_pipeline.yaml'].map((f) => join(dir, f)));
    expect(r.diagnostics.find((d) => d.file === join(dir, 'demo.yaml')), shown).toMatchObject({ file: join(dir, 'demo.yaml'), line, code: 'UNKNOWN_DATASET', message: "context 'client' names dataset 'clientz', which no config defines (did you mean 'clients'?)" });
  });

  it.each([
    ['a byte-order mark', `\ufeff${MINE}`],
    ['CRLF line endings', MINE.replace(/\n/g, '\r\n')],
    ['zip: "007" quoted', STORES('"007"')],
  ])('%s is no mistake', async (_what, text) => {
    const r = await load({ 'mine.yaml': text });
    expect(r.ok ? [] : r.diagnostics.map(formatDiagnostic)).toEqual([]);
  });
});

describe('airmail validate on an empty file', () => {
  it('says the file defines nothing (a served one emptied is refused on reload), and passes', async () => {
    const { validateFiles } = await import('../engine/cli-validate.js');
    await writeFile(join(dir, 'empty.yaml'), '\n');
    const out: string[] = [];
    const err: string[] = [];
    const rc = await validateFiles([join(dir, 'empty.yaml')], { operators: OPS, out: (s) => out.push(s), err: (s) => err.push(s) });
    expect(rc).toBe(0);
    expect(err.join('')).toMatch(/^note: .*empty\.yaml is empty: it defines nothing/);
  });
});
