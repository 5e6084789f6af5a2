/**
 * Broken configs live as files (test/fixtures/broken); each declares the
 * diagnostics it must produce as `# expect: CODE@line[:col]` lines.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigSet } from '../engine/config/load.js';
import { formatDiagnostic } from '../engine/errors.js';
import { OPS, ROOT } from './helpers.js';

const DIR = join(ROOT, 'test/fixtures/broken');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

describe('broken configs', () => {
  it('has fixtures', () => expect(files.length).toBeGreaterThanOrEqual(8));

  it.each(files)('%s reports what it expects, with file, line and a sentence', async (name) => {
    const path = join(DIR, name);
    const text = readFileSync(path, 'utf8');
    const expects = [...text.matchAll(/^# expect: ([A-Z_]+)@(\d+)(?::(\d+))?$/gm)].map((m) => ({ code: m[1], line: Number(m[2]), col: m[3] ? Number(m[3]) : undefined }));
    expect(expects.length).toBeGreaterThan(0);
    const r = await loadConfigSet([{ path, text }], { operators: OPS });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    for (const e of expects) {
      const hit = r.diagnostics.find((d) => d.code === e.code && d.line === e.line && (e.col === undefined || d.col === e.col));
      expect(hit, `expected ${e.code} at ${e.line}:${e.col ?? '*'}; got\n${r.diagnostics.map(formatDiagnostic).join('\n')}`).toBeDefined();
      expect(hit!.file).toBe(path);
      expect(hit!.message.length).toBeGreaterThan(15);
    }
  });
});

describe('unknown operator wording', () => {
  it('ends in a sentence, not a dangling colon, when there is nothing to suggest', async () => {
    const text = 'pipeline:\n  name: p\n  item_type: id\n  initialization:\n    includes: [Zzqxv]\n';
    const r = await loadConfigSet([{ path: 'p.yaml', text }], { operators: OPS });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const d = r.diagnostics.find((x) => x.code === 'UNKNOWN_OPERATOR');
    expect(d?.message).toBe("pipeline 'p': 'Zzqxv' is neither an installed operator nor a preset defined under 'operators'");
  });
});
