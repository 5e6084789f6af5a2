/**
 * Issue: with a retailer's 200 pipelines the /ui page listed them all, 40,000 px of tables, with no
 * way to find one but the browser's find. A filter box narrows the pipelines, live and per-operator
 * tables to the pipelines whose name contains its text, and keeps doing so as the page polls.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const N = 120;
let srv: RunningServer | undefined;
let browser: Browser;
let dir: string;

describe('GET /ui with many pipelines, in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM} (.ci/run installs it)`);
    dir = await tempDir();
    let text = 'pipelines:\n';
    for (let i = 0; i < N; i++) text += `- {name: ${i % 3 === 0 ? 'shoes' : 'bags'}_${i}, item_type: sid, initialization: {includes: [{name: Static, parameters: {items: [a, b]}}]}}\n`;
    await writeFile(join(dir, 'all.yaml'), text);
    srv = await server({ configs: dir, threads: 0, port: 0, reloadSettleMs: 0, observe: new Observability() });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a filter box narrows the pipeline tables to matching names, across polls', async () => {
    for (const name of ['shoes_3', 'bags_4', 'shoes_33']) expect((await fetch(`${srv!.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${srv!.url}/ui`);
    await page.waitForFunction(`document.querySelectorAll('#pipelines tbody tr').length === ${N}`);
    await page.waitForFunction("document.querySelectorAll('#live tbody tr').length === 3");
    await page.getByLabel('filter').fill('shoes_3');
    const visible = (table: string): Promise<string[]> => page.evaluate(`[...document.querySelectorAll('#${table} tbody tr')].filter((tr) => !tr.hidden).map((tr) => tr.cells[0].textContent)`);
    const shoes3 = Array.from({ length: N }, (_, i) => i).filter((i) => i % 3 === 0 && String(i).startsWith('3')).map((i) => `shoes_${i}`);
    expect((await visible('pipelines')).sort()).toEqual(shoes3.sort());
    expect((await visible('live')).sort()).toEqual(['shoes_3', 'shoes_33']);
    expect(await page.locator('#filter-count').textContent()).toBe(`${shoes3.length} of ${N} pipelines`);
    // The next stats poll redraws the live table: the filter still holds.
    await fetch(`${srv!.url}/pipelines/bags_4`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await page.waitForTimeout(2500);
    expect((await visible('live')).sort()).toEqual(['shoes_3', 'shoes_33']);
    await page.getByLabel('filter').fill('');
    expect(await visible('pipelines')).toHaveLength(N);
    expect(errors).toEqual([]);
  }, 30_000);
});
