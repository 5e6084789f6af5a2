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
    // With no near name, it says where the installed names are listed (there was no way to list them).
    expect(d?.message).toBe("pipeline 'p': 'Zzqxv' is neither an installed operator nor a preset defined under 'operators' (`airmail operators` or GET /operators lists the installed operators and presets)");
  });
});

describe('a preset with a bad parameter', () => {
  const presets = 'operators:\n  Cheap:\n    use: Range\n    parameters:\n      column: id\n      min: abc\n';
  const pipeline = (name: string, step: string): string => `- {name: ${name}, item_type: id, initialization: {includes: [{name: Static, parameters: {items: [1]}}]}, operations: [${step}]}\n`;

  it('is reported once, at its definition, whatever uses it; a use that overrides the parameter is fine', async () => {
    const text = `${presets}pipelines:\n${pipeline('a', 'Cheap')}${pipeline('b', 'Cheap')}${pipeline('c', '{name: Cheap, parameters: {min: 1}}')}`;
    const r = await loadConfigSet([{ path: 'p.yaml', text }], { operators: OPS });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.map((d) => [d.code, d.file, d.line, d.pointer, d.message])).toEqual([
      ['BAD_PARAMETER', 'p.yaml', 6, '/operators/Cheap/parameters/min', `preset 'Cheap' (Range): 'min' must be a number, or a time ('2024-10-01', '2024-10-01T12:30:00Z', 'now-30d', 'now-1w/d'; units s, m, h, d, w), not "abc"`],
    ]);
  });

  it('in another file: the definition there, and each use names it as the reason (not a knock-on "not a preset")', async () => {
    const r = await loadConfigSet([
      { path: 'ops.yaml', text: presets },
      { path: 'p.yaml', text: `pipelines:\n${pipeline('a', 'Cheap')}${pipeline('b', '{name: Cheap, parameters: {max: x}}')}` },
    ], { operators: OPS });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.map((d) => [d.file, d.line, d.message])).toEqual([
      ['ops.yaml', 6, `preset 'Cheap' (Range): 'min' must be a number, or a time ('2024-10-01', '2024-10-01T12:30:00Z', 'now-30d', 'now-1w/d'; units s, m, h, d, w), not "abc"`],
      ['p.yaml', 2, "pipeline 'a': Cheap: preset 'Cheap' has invalid parameters, reported at its definition in ops.yaml"],
      ['p.yaml', 3, `pipeline 'b': Cheap (Range): 'max' must be a number, or a time ('2024-10-01', '2024-10-01T12:30:00Z', 'now-30d', 'now-1w/d'; units s, m, h, d, w), not "x"`],
      ['p.yaml', 3, "pipeline 'b': Cheap: preset 'Cheap' has invalid parameters, reported at its definition in ops.yaml"],
    ]);
  });

  it('a problem that depends on the pipeline (a column of its items) stays at the use', async () => {
    const r = await loadConfigSet([{ path: 'p.yaml', text: 'operators:\n  Near: {use: Lookup, parameters: {dataset: d}}\npipeline: {name: a, item_type: nope, initialization: {includes: [Near]}}\n' }], { operators: OPS });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.map((d) => [d.line, d.pointer?.split('/')[1]])).toEqual([[3, 'pipeline']]);
  });
});

describe('a step that fails to load', () => {
  const pipeline = (scorer: string, more = ''): string => `pipeline:
  name: p
  item_type: id
  initialization:
    includes: [{name: Static, parameters: {items: [1]}}]
    scorer: [${scorer}]
  operations: [{name: Sort, parameters: {by: lr_score}}]
  return: [id, lr_score${more}]
`;
  const load = async (text: string) => {
    const r = await loadConfigSet([{ path: 'p.yaml', text }], { operators: OPS });
    return r.ok ? [] : r.diagnostics.map((d) => `${d.code} ${d.pointer}`);
  };

  it('is the only problem: no knock-on "no step writes" for the columns it would have written', async () => {
    expect(await load(pipeline('{name: ModelScore, as: lr_score, parameters: {model: no/such/model.onnx, features: [id]}}'))).toEqual([
      'BAD_PARAMETER /pipeline/initialization/scorer/0/parameters/model',
    ]);
    expect(await load(pipeline('{name: LrScore}'))).toEqual(['UNKNOWN_OPERATOR /pipeline/initialization/scorer/0/name']);
  });

  it('still lets a column no step would write be reported', async () => {
    expect(await load(pipeline('{name: ModelScore, as: lr_score, parameters: {model: no/such/model.onnx, features: [id]}}', ', lr_scroe'))).toEqual([
      'BAD_PARAMETER /pipeline/initialization/scorer/0/parameters/model',
      'UNKNOWN_COLUMN /pipeline/return/2',
    ]);
  });
});
