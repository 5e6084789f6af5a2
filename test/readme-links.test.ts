/**
 * Every link in README.md and loadtest/README.md goes somewhere: an in-page `[text](#anchor)` names a
 * heading of that file (GitHub's anchors: lowercase, punctuation but `-` and `_` dropped, spaces to
 * `-`, a repeated heading `-1`, `-2`, ...) or an `<a id="...">`; a relative link names a file of the
 * repository (and, with `#anchor`, a heading of that file); a `loadtest/results/...` file named in
 * backticks exists, unless it is one a run writes and git ignores (`loadtest/results/partial.md`).
 * The README is read top to bottom by people who click.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

/** The lines outside fenced code blocks (a `# {...}` comment in a bash block is not a heading). */
function prose(text: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) { fenced = !fenced; out.push(''); continue; }
    out.push(fenced ? '' : line);
  }
  return out;
}

/** GitHub's anchor of a heading's text. */
export function slug(heading: string): string {
  const text = heading
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
}

export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(text)) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(m[1]!);
  }
  return out;
}

interface Link { line: number; target: string }

function links(text: string): Link[] {
  const out: Link[] = [];
  prose(text).forEach((line, i) => {
    // Inline code spans are not links.
    const bare = line.replace(/`[^`]*`/g, '``');
    for (const m of bare.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push({ line: i + 1, target: m[1]! });
  });
  return out;
}

function resultFiles(text: string): Link[] {
  const out: Link[] = [];
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/`(loadtest\/results\/[^`\s]+)`/g)) out.push({ line: i + 1, target: m[1]! });
  });
  return out;
}

const FILES = ['README.md', 'loadtest/README.md'];

/** A file a run writes, not one committed: git ignores its path. */
function ignored(path: string): boolean {
  try { execFileSync('git', ['check-ignore', '-q', path], { cwd: ROOT }); return true; } catch { return false; }
}

describe('README links', () => {
  it('the anchor rules are GitHub\'s', () => {
    expect(slug('Performance (measured: every target met but the MLP\'s 2,400 req/s, and the scaling curve not run)'))
      .toBe('performance-measured-every-target-met-but-the-mlps-2400-reqs-and-the-scaling-curve-not-run');
    expect(slug('A/B experiments')).toBe('ab-experiments');
    expect(slug('What is guaranteed, and the tests that prove it')).toBe('what-is-guaranteed-and-the-tests-that-prove-it');
    expect([...anchors('# A\n## A\n```\n# A\n```\n### A\n')]).toEqual(['a', 'a-1', 'a-2']);
  });

  for (const file of FILES) {
    it(`every link in ${file} resolves`, () => {
      const path = join(ROOT, file);
      const text = readFileSync(path, 'utf8');
      const own = anchors(text);
      const broken: string[] = [];
      for (const { line, target } of links(text)) {
        if (/^[a-z]+:/i.test(target)) continue; // http(s), mailto
        const [rel, hash] = target.split('#') as [string, string | undefined];
        if (rel === '') {
          if (!own.has(hash ?? '')) broken.push(`${file}:${line} #${hash} is no heading of ${file}`);
          continue;
        }
        const dest = join(dirname(path), rel);
        if (!existsSync(dest)) { broken.push(`${file}:${line} ${target}: ${relative(ROOT, dest)} does not exist`); continue; }
        if (hash !== undefined && dest.endsWith('.md') && !anchors(readFileSync(dest, 'utf8')).has(hash)) {
          broken.push(`${file}:${line} ${target}: #${hash} is no heading of ${relative(ROOT, dest)}`);
        }
      }
      for (const { line, target } of resultFiles(text)) {
        if (!existsSync(join(ROOT, target)) && !ignored(target)) broken.push(`${file}:${line} \`${target}\` does not exist`);
      }
      expect(broken).toEqual([]);
    });
  }

  it('every `airmail serve` flag of "Serving options" is in the CLI usage block, and its variable in the environment table', () => {
    const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = text.slice(text.indexOf('### Serving options'), text.indexOf('### Running several replicas'));
    const rows = [...table.matchAll(/^\| `(--[a-z-]+)[^|]*\| `?([A-Z_]*)`? \|/gm)].map((m) => ({ flag: m[1]!, env: m[2]! }));
    expect(rows.length).toBeGreaterThan(8);
    const cli = text.slice(text.indexOf('## CLI'));
    const usage = cli.slice(0, cli.indexOf('airmail validate'));
    const envAt = cli.indexOf('| variable | what |');
    const envTable = cli.slice(envAt, cli.indexOf('\n\n', envAt));
    const missing = rows.flatMap(({ flag, env }) => [
      ...(usage.includes(`[${flag} `) || usage.includes(`[${flag}]`) ? [] : [`${flag} not in the CLI usage`]),
      ...(env === '' || envTable.includes(`\`${env}\``) ? [] : [`${env} not in the environment table`]),
    ]);
    expect(missing).toEqual([]);
  });
});
