/**
 * The observability page in a real headless Chromium (Debian's chromium,
 * driven by playwright-core): it loads without console errors, lists the
 * pipelines, runs one with the debug trace shown as a table, answers "why?",
 * shows live per-pipeline and per-operator numbers, and leaves a screenshot
 * under test-output/. (Page-side checks are strings: tsc has no DOM types here.)
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, ROOT, server } from './helpers.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
let srv: RunningServer;
let browser: Browser;

describe('GET /ui in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM} (.ci/run installs it)`);
    srv = await server({ configs: await demoConfigs(), threads: 2, observe: new Observability() });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('loads cleanly, runs a pipeline, shows its items, debug trace, why and live stats', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()}`));

    const res = await page.goto(`${srv.url}/`);
    expect(res?.status()).toBe(200);
    expect(page.url()).toBe(`${srv.url}/ui`);
    await page.waitForSelector('#pipelines tbody tr');
    const names = await page.locator('#pipelines tbody tr td:first-child').allTextContents();
    expect(names).toContain('complimentary_items');
    const version = await page.locator('#pipelines tbody tr', { hasText: 'complimentary_items' }).locator('td').nth(1).textContent();
    expect(version).toMatch(/\w{6,}/);

    await page.selectOption('#run-pipeline', 'complimentary_items');
    await page.fill('#run-inputs', JSON.stringify({ client_id: 17, product_id: 42 }));
    await page.click('#run');
    await page.waitForFunction("document.querySelectorAll('#items tbody tr').length > 0");
    expect(await page.locator('#items tbody tr').count()).toBe(10);
    expect(await page.locator('#items thead th').allTextContents()).toEqual(['sku_id', 'product_id', 'score']);
    const traceSteps = await page.locator('#trace tbody tr td:first-child').allTextContents();
    expect(traceSteps).toEqual(expect.arrayContaining(['AvailableInventory', 'PreviouslyPurchased', 'MatchDepartment', 'DiverseSample']));
    const md = page.locator('#trace tbody tr', { hasText: 'MatchDepartment' }).first();
    expect(Number(await md.locator('td').nth(4).textContent())).toBeGreaterThan(Number(await md.locator('td').nth(5).textContent()));

    const first = await page.locator('#items tbody tr').first().locator('td').first().textContent();
    await page.fill('#why-item', String(first));
    await page.click('#why');
    await page.waitForFunction("(document.getElementById('why-answer').textContent || '') !== ''");
    expect(await page.textContent('#why-answer')).toMatch(/^kept: included by /);
    await page.fill('#why-item', '999999');
    await page.click('#why');
    await page.waitForFunction("(document.getElementById('why-answer').textContent || '').startsWith('unknown_item: no item 999999 in dataset catalog')");

    // The page's own runs are debug and why runs, which the live numbers leave out: they show serving traffic.
    const stats = async (): Promise<number> => ((await (await fetch(`${srv.url}/ui/stats`)).json()) as { pipelines: Record<string, { requests: number }> }).pipelines['complimentary_items']?.requests ?? 0;
    expect(await stats()).toBe(0);
    expect((await fetch(`${srv.url}/pipelines/complimentary_items?client_id=17&product_id=42`)).status).toBe(200);
    expect(await stats()).toBe(1);
    await page.waitForFunction("[...document.querySelectorAll('#live tbody tr td:first-child')].some((td) => td.textContent === 'complimentary_items')");
    await page.waitForFunction("document.querySelectorAll('#operators tbody tr').length > 0");
    // Live numbers are the last minute's, and the page says so (they were totals since the start).
    expect(await page.locator('section h2', { hasText: 'Live' }).textContent()).toBe('Live (last 60 s)');
    const live = page.locator('#live tbody tr', { hasText: 'complimentary_items' }).first();
    await page.waitForFunction("[...document.querySelectorAll('#live tbody tr')].some((tr) => tr.cells[0].textContent === 'complimentary_items' && tr.cells[4].textContent !== '')");
    expect(Number(await live.locator('td').nth(1).textContent())).toBeGreaterThan(0);
    const opSteps = await page.locator('#operators tbody tr td:nth-child(2)').allTextContents();
    expect(opSteps).toContain('DiverseSample');

    await mkdir(join(ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-output', 'ui.png'), fullPage: true });
    expect(existsSync(join(ROOT, 'test-output', 'ui.png'))).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });
});
