/**
 * The /ui page left open while things change, in a real headless Chromium (as
 * test/ui.test.ts): a config broken and fixed shows within one stats poll (it
 * took up to 10 s); a file rejected before its pipeline ever loaded is listed
 * with file:line (it was only a count); a stopped server is announced and the
 * page recovers when it is back (it went on showing the last numbers as live);
 * one request in the minute is a rate above 0 (it read 0.0); the forms work
 * from the keyboard; a phone-width page does not scroll sideways; and another
 * pipeline's run or "why" answer does not stay on screen.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import type { RunningServer } from '../engine/server.js';
import { ROOT, server, tempDir } from './helpers.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const PIPES = (limit: number, extra = ''): string => `pipelines:
- name: things
  item_type: sid
  initialization:
    includes: [{name: Static, parameters: {items: [a, b, c]}}]
  operations:
  - {name: Limit, parameters: {n: ${limit}${extra}}}
- name: other
  item_type: sid
  initialization:
    includes: [{name: Static, parameters: {items: [x]}}]
`;
let srv: RunningServer | undefined;
let browser: Browser;
let dir: string;
const start = (port = 0): Promise<RunningServer> => server({ configs: dir, threads: 0, port, reloadSettleMs: 0, observe: new Observability() });

describe('GET /ui while things change, in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM} (.ci/run installs it)`);
    dir = await tempDir();
    await writeFile(join(dir, 'things.yaml'), PIPES(2));
    await writeFile(join(dir, 'bad.yaml'), 'pipeline:\n  name: never\n  item_type: sid\n  initialization:\n    includes: [{name: "<b>Nope</b>"}]\n');
    srv = await start();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows reloads and rejections at once, a stopped server, rates, keyboard use and a phone width', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${srv!.url}/ui`);
    await page.waitForSelector('#pipelines tbody tr');
    const rejected = await page.locator('#rejected tbody tr').allTextContents();
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatch(/bad\.yaml:5: pipeline 'never': .*"<b>Nope<\/b>"/);
    expect(await page.locator('#rejected b').count()).toBe(0);

    // Broken, then fixed, while the page is open: each shows within a poll (2 s), not the 10 s refresh.
    const lastRejection = "[...document.querySelectorAll('#pipelines tbody tr')].find((tr) => tr.cells[0].textContent === 'things').cells[4].textContent";
    await writeFile(join(dir, 'things.yaml'), PIPES(2, ', bogus: 1'));
    await page.waitForFunction(`${lastRejection}.includes("'bogus' is not a known property")`, null, { timeout: 5000 });
    await writeFile(join(dir, 'things.yaml'), PIPES(3));
    await page.waitForFunction(`${lastRejection} === ''`, null, { timeout: 5000 });

    // One serving request in the window is a rate, not 0.0.
    expect((await fetch(`${srv!.url}/pipelines/things/run`)).status).toBe(200);
    await page.waitForFunction("[...document.querySelectorAll('#live tbody tr')].some((tr) => tr.cells[0].textContent === 'things')");
    expect(Number(await page.locator('#live tbody tr', { hasText: 'things' }).locator('td').nth(1).textContent())).toBeGreaterThan(0);

    // Keyboard only: Ctrl+Enter in the labelled inputs runs, Enter in the item id asks.
    await page.selectOption('#run-pipeline', 'things');
    await page.getByLabel('inputs (JSON').focus();
    await page.keyboard.press('Control+Enter');
    await page.waitForFunction("document.querySelectorAll('#items tbody tr').length === 3");
    await page.getByLabel('item id').fill('a');
    await page.keyboard.press('Enter');
    await page.waitForFunction("(document.getElementById('why-answer').textContent || '').startsWith('kept: ')");
    // Another pipeline: the last one's items and answer go.
    await page.selectOption('#run-pipeline', 'other');
    expect(await page.textContent('#why-answer')).toBe('');
    expect(await page.locator('#items tbody tr').count()).toBe(0);

    // The server stops: the page says so; it comes back: the page recovers.
    const port = srv!.port;
    await srv!.close();
    srv = undefined;
    await page.waitForFunction("(document.getElementById('conn').textContent || '').startsWith('server unreachable since')", null, { timeout: 8000 });
    srv = await start(port);
    await page.waitForFunction("document.getElementById('conn').textContent === ''", null, { timeout: 15_000 });

    await page.setViewportSize({ width: 390, height: 800 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await mkdir(join(ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-output', 'ui-phone.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
