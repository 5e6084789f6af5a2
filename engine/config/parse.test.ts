import { describe, expect, it } from 'vitest';
import { parseConfigText } from './parse.js';

describe('parseConfigText', () => {
  it('parses YAML and JSON and locates nodes by JSON pointer', () => {
    const r = parseConfigText('pipeline:\n  name: x\n  operations:\n  - name: Sort\n    parameters: {by: score}\n', 'a.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.parsed.value).toEqual({ pipeline: { name: 'x', operations: [{ name: 'Sort', parameters: { by: 'score' } }] } });
    expect(r.parsed.locate('/pipeline/operations/0/parameters/by')).toEqual({ line: 5, col: 18 });
    const j = parseConfigText('{"a": {"b": [1, 2]}}');
    expect(j.ok && j.parsed.value).toEqual({ a: { b: [1, 2] } });
  });

  it('reports syntax errors with file, line and column', () => {
    const r = parseConfigText('pipeline:\n  name: [unclosed\n', 'bad.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics[0]).toMatchObject({ code: 'CONFIG_SYNTAX', file: 'bad.yaml' });
    expect(r.diagnostics[0]!.line).toBeGreaterThan(0);
  });

  it("says in plain words that a second YAML document ('---') is not read, where it starts", () => {
    for (const text of ['pipeline:\n  name: a\n---\npipeline:\n  name: b\n', 'pipeline:\n  name: a\n---\n']) {
      const r = parseConfigText(text, 'two.yaml');
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.diagnostics).toHaveLength(1);
      expect(r.diagnostics[0]).toMatchObject({ code: 'CONFIG_SYNTAX', file: 'two.yaml', line: 3, col: 1 });
      expect(r.diagnostics[0]!.message).toContain("the '---' here starts another");
      expect(r.diagnostics[0]!.message).not.toContain('parseAllDocuments');
    }
    // a '---' that opens the only document is fine
    expect(parseConfigText('---\npipeline:\n  name: a\n').ok).toBe(true);
  });

  it('rejects duplicate keys, at the second one, also as 1 and "1" (the same key once built)', () => {
    const r = parseConfigText('a: 1\nb:\n  1: x\n  "1": y\na: 2\n');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.map((d) => [d.message, d.line])).toEqual(expect.arrayContaining([
      ["Map keys must be unique: 'a' appears twice", 5],
      ["Map keys must be unique: '1' appears twice", 4],
    ]));
  });

  it.each(['__proto__', 'constructor', 'prototype'])('rejects the key %s and pollutes nothing', (key) => {
    const r = parseConfigText(`a:\n  ${key}:\n    polluted: true\n`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics[0]!.message).toContain(key);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('rejects custom tags', () => {
    const r = parseConfigText('a: !!js/function "return 1"\nb: !custom x\n');
    expect(r.ok).toBe(false);
  });

  // The parser resolves these even in the core schema, into a Buffer, Set, Map, Date or Symbol, or merges
  // another mapping in: `n: !!binary ...` reached the input check as a Buffer, and `!!merge <<` in
  // /execute answered 'Symbol(<<) could not be cloned.'
  it.each([
    ['a: !!binary aGVsbG8=', '!!binary'], ['a: !!set {x, y}', '!!set'], ['a: !!omap [x: 1]', '!!omap'],
    ['a: !!pairs [x: 1]', '!!pairs'], ['a: !!timestamp 2001-12-14', '!!timestamp'], ['a: !!merge <<', '!!merge'],
    ['b: &b {c: 1}\na: {!!merge <<: *b}', '!!merge'], ['a: {!!merge <<: {c: 1}}', '!!merge'],
  ])('rejects the non-JSON YAML type in %j', (text, tag) => {
    const r = parseConfigText(text, 'x.yaml');
    expect(r.ok, text).toBe(false);
    if (!r.ok) expect(r.diagnostics[0]).toMatchObject({ code: 'CONFIG_SYNTAX', file: 'x.yaml', message: expect.stringContaining(`YAML tag ${tag} is not allowed`) });
  });

  it('keeps the core tags and a plain << key (merge keys are off in YAML 1.2)', () => {
    const r = parseConfigText('a: !!str 1\nb: !!int 2\nc: !!map {d: !!bool true, e: !!null}\nf: !!seq [1]\n<<: {g: 1}\n');
    expect(r.ok && r.parsed.value).toEqual({ a: '1', b: 2, c: { d: true, e: null }, f: [1], '<<': { g: 1 } });
  });

  it('rejects a billion-laughs alias bomb without expanding it', () => {
    const bomb = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    ].join('\n');
    const r = parseConfigText(bomb);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics[0]!.code).toBe('CONFIG_SYNTAX');
  });

  it('rejects nesting deeper than the limit instead of crashing', () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const r = parseConfigText(deep);
    expect(r.ok).toBe(false);
  });

  it('says so for 5,000 flow levels (the documented message, where it starts), not "Maximum call stack size exceeded"', () => {
    for (const text of [`pipeline: ${'['.repeat(5000)}${']'.repeat(5000)}`, `a:\n  b: ${'{x: '.repeat(5000)}1${'}'.repeat(5000)}`]) {
      const r = parseConfigText(text, 'deep.yaml');
      expect(r.ok ? [] : r.diagnostics).toEqual([{ code: 'CONFIG_SYNTAX', message: 'nesting deeper than 64 levels is not allowed', file: 'deep.yaml', line: text.startsWith('a') ? 2 : 1, col: expect.any(Number) }]);
    }
    // Brackets in quoted strings and comments do not count; 60 flow levels are fine.
    const quoted = `a: "${'['.repeat(200)}"\nb: '${'{'.repeat(200)}'\n# ${'['.repeat(200)}\nc: ${'['.repeat(60)}1${']'.repeat(60)}\n`;
    expect(parseConfigText(quoted).ok).toBe(true);
  });
});
