/**
 * /why named the step that removed an item by its label only, so in a pipeline with two `Match`
 * steps the answer could not say which one. Now every step /why names carries `index`, its 0-based
 * place in its list of the config, as each debug trace row does (the trace lists steps in the order
 * they ran, not the config's: leading filters move before the scorers), the reason says
 * `at operations[1]`, /openapi.json documents it, and the UI's trace shows each step's place and
 * marks the row of the step a why answer names.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
let srv: RunningServer;

beforeAll(async () => {
  const dir = await tempDir('airmail-why-position-');
  await writeFile(join(dir, 'things.json'), JSON.stringify([{ id: 1, colour: 'red', size: 'S', w: 1 }, { id: 2, colour: 'blue', size: 'S', w: 2 }, { id: 3, colour: 'red', size: 'M', w: 3 }, { id: 4, colour: 'red', size: 'S', w: 4 }]));
  await writeFile(join(dir, 'twice.yaml'), `
datasets:
  things: {path: things.json}
pipelines:
- name: twice
  item_type: id
  items: things
  initialization:
    includes:
    - name: Static
      parameters: {items: [1, 2, 3, 4]}
    scores:
    - name: Column
      parameters: {column: w}
  operations:
  - name: Match
    parameters: {column: colour, value: red}
  - name: Sort
    parameters: {by: score, desc: true}
  - name: Match
    parameters: {column: size, value: S}
`);
  srv = await server({ configs: dir, threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

type Step = { step: string; index: number; phase: string; removed?: unknown[] };
const why = async (item: number): Promise<{ reason: string; removedBy: Step }> => {
  const res = await fetch(`${srv.url}/pipelines/twice/why`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ item }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { why: { reason: string; removedBy: Step } }).why;
};

describe('two steps of one name', () => {
  it('/why names which Match removed the item, by its place in operations, as the debug trace does', async () => {
    const [two, three] = [await why(2), await why(3)];
    expect(two.removedBy).toMatchObject({ step: 'Match', index: 0, phase: 'operation' });
    expect(three.removedBy).toMatchObject({ step: 'Match', index: 2, phase: 'operation' });
    expect(two.reason).toContain('removed by Match(column=colour, value=red) at operations[0]');
    expect(three.reason).toContain('removed by Match(column=size, value=S) at operations[2]');
    const run = (await (await fetch(`${srv.url}/pipelines/twice/run?debug`)).json()) as { debug: { steps: Step[] } };
    const trace = run.debug.steps;
    // The trace runs the leading Match before the scorer: its order is not the config's, its index is.
    expect(trace.map((s) => `${s.phase}:${s.step}[${s.index}]`)).toEqual(['include:Static[0]', 'operation:Match[0]', 'score:Column[0]', 'operation:Sort[1]', 'operation:Match[2]']);
    for (const [item, w] of [[2, two], [3, three]] as const) {
      expect(trace.find((s) => s.phase === w.removedBy.phase && s.index === w.removedBy.index)?.removed, String(item)).toEqual([item]);
    }
  });

  it('/openapi.json documents the index of a why step and of a debug step', async () => {
    const doc = (await (await fetch(`${srv.url}/openapi.json`)).json()) as { paths: Record<string, { post: { responses: Record<string, { content: Record<string, { schema: { properties: Record<string, { required: string[]; properties: Record<string, unknown> }> } }> }> } }>; components: { schemas: Record<string, { properties: Record<string, { properties?: Record<string, { items: { required: string[] } }> }> }> } };
    const answer = doc.paths['/pipelines/{name}/why']!.post.responses['200']!.content['application/json']!.schema.properties['why']!;
    expect(JSON.stringify(answer.properties['removedBy'])).toContain('"index"');
    expect(JSON.stringify(answer.properties['includedBy'])).toContain('"index"');
    expect(doc.components.schemas['Result']!.properties['debug']!.properties!['steps']!.items.required).toContain('index');
  });

  it("the UI's trace shows each step's place and marks the one the why answer names", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM}`);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${srv.url}/ui`);
      await page.waitForSelector('#run-pipeline option[value="twice"]', { state: 'attached' });
      await page.selectOption('#run-pipeline', 'twice');
      await page.fill('#run-inputs', '{}');
      await page.click('#run');
      await page.waitForFunction("document.querySelectorAll('#trace tbody tr').length === 5");
      expect(await page.locator('#trace tbody tr td:nth-child(2)').allTextContents()).toEqual(['includes[0]', 'operations[0]', 'scores[0]', 'operations[1]', 'operations[2]']);
      await page.fill('#why-item', '3');
      await page.click('#why');
      await page.waitForFunction("(document.getElementById('why-answer').textContent || '') !== ''");
      expect(await page.textContent('#why-answer')).toContain('at operations[2]');
      expect(await page.locator('#trace tbody tr.why-step td:nth-child(2)').allTextContents()).toEqual(['operations[2]']);
      await page.fill('#why-item', '2');
      await page.click('#why');
      await page.waitForFunction("(document.getElementById('why-answer').textContent || '').includes('operations[0]')");
      expect(await page.locator('#trace tbody tr.why-step td:nth-child(2)').allTextContents()).toEqual(['operations[0]']);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
