/**
 * Untrusted text → plain JSON value, keeping enough of the YAML document to
 * turn a JSON pointer back into `line:col`. JSON is parsed by the same YAML
 * 1.2 parser, so both formats get the same positions and the same limits.
 */
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Document, type Node } from 'yaml';
import type { Diagnostic, ErrorCode } from '../errors.js';

/** Limits that keep hostile documents cheap to reject. */
export const PARSE_LIMITS = {
  maxAliasCount: 100,
  maxDepth: 64,
  maxBytes: 4 * 1024 * 1024,
} as const;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The core schema's own tags: what JSON can hold. `!!binary`, `!!set`, `!!omap`, `!!pairs`, `!!timestamp`
 * and `!!merge` are resolved by the parser even in the core schema, into a Buffer, Set, Map, Date or Symbol
 * (or a merge): never JSON values, so a config or body carrying them meant something this engine does not do. */
const CORE_TAGS = new Set(['map', 'seq', 'str', 'null', 'bool', 'int', 'float'].map((t) => `tag:yaml.org,2002:${t}`));

function tagProblem(tag: string): string {
  const short = tag.startsWith('tag:yaml.org,2002:') ? `!!${tag.slice('tag:yaml.org,2002:'.length)}` : tag;
  return tag.startsWith('tag:yaml.org,2002:')
    ? `YAML tag ${short} is not allowed: configs and bodies hold JSON values only (maps, lists, text, numbers, true/false, null)`
    : `custom YAML tag ${short} is not allowed`;
}

export interface ParsedText {
  readonly value: unknown;
  /** Line/column (1-based) of the node at a JSON pointer, or of its closest ancestor. */
  locate(pointer: string): { line: number; col: number } | undefined;
}

export type ParseOutcome = { ok: true; parsed: ParsedText } | { ok: false; diagnostics: Diagnostic[] };

function diag(code: ErrorCode, message: string, file: string | undefined, pos?: { line: number; col: number }, pointer?: string): Diagnostic {
  return { code, message, ...(file !== undefined ? { file } : {}), ...(pos ? { line: pos.line, col: pos.col } : {}), ...(pointer !== undefined ? { pointer } : {}) };
}

export function parseConfigText(text: string, file?: string): ParseOutcome {
  if (text.length > PARSE_LIMITS.maxBytes) {
    return { ok: false, diagnostics: [diag('CONFIG_SYNTAX', `the document is ${text.length} bytes; the limit is ${PARSE_LIMITS.maxBytes}`, file)] };
  }
  // The parser recurses per flow level: 5,000 nested brackets overflowed the stack before checkShape ran.
  const deep = flowTooDeep(text);
  if (deep !== undefined) return { ok: false, diagnostics: [diag('CONFIG_SYNTAX', `nesting deeper than ${PARSE_LIMITS.maxDepth} levels is not allowed`, file, deep)] };
  const lc = new LineCounter();
  let doc: Document.Parsed;
  try {
    // Duplicate keys are found by checkShape: the parser's own check compares each key with every
    // earlier one (5,000 keys in a posted config took a second of the main thread).
    doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false, strict: true, version: '1.2', schema: 'core', customTags: [], keepSourceTokens: false });
  } catch (err) {
    return { ok: false, diagnostics: [diag('CONFIG_SYNTAX', `cannot parse: ${(err as Error).message}`, file)] };
  }
  const pos = (offset: number): { line: number; col: number } => lc.linePos(offset);
  // A tab used for indentation throws the parser off for the rest of its block: say that once per
  // tab, plainly, rather than bury it among the follow-on errors it causes.
  const tabs = doc.errors.filter((e) => e.code === 'TAB_AS_INDENT');
  if (tabs.length > 0) return { ok: false, diagnostics: tabs.map((e) => diag('CONFIG_SYNTAX', 'a tab is used for indentation: YAML indents with spaces only, so replace the tab with spaces', file, pos(e.pos[0]))) };
  // The parser's words for a key followed by a deeper-indented line ("Nested mappings are not
  // allowed in compact mappings", "Implicit keys need to be on a single line") come in pairs and
  // mean nothing to someone who indented one line wrong: said once per line, in plain words.
  const indentLines = new Set<number>();
  const syntax = [...doc.errors, ...doc.warnings].flatMap((e) => {
    const at = pos(e.pos[0]);
    const first = e.message.split('\n')[0] ?? e.message;
    // The parser's words ("please use YAML.parseAllDocuments()") name a function of its API.
    if (e.code === 'MULTIPLE_DOCS') return [diag('CONFIG_SYNTAX', `a config is one YAML document, but the '---' here starts another: remove it, or put what follows in a file of its own (one file may hold datasets, presets and a list of pipelines: 'pipelines:')`, file, at)];
    if (e.code !== 'BLOCK_AS_IMPLICIT_KEY' && e.code !== 'MULTILINE_IMPLICIT_KEY') return [diag('CONFIG_SYNTAX', first, file, at)];
    if (indentLines.has(at.line)) return [];
    indentLines.add(at.line);
    return [diag('CONFIG_SYNTAX', `the indentation here cannot be read: a line below is indented deeper than the keys beside it, or a value runs on to the next line. Indent the keys of one mapping equally, and start each list entry with '- ' (the parser: ${first.replace(/ at line \d+, column \d+:?$/, '')})`, file, at)];
  });
  if (syntax.length > 0) return { ok: false, diagnostics: syntax };

  const shape = checkShape(doc.contents as Node | null, file, pos, text);
  if (shape.length > 0) return { ok: false, diagnostics: shape };

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: PARSE_LIMITS.maxAliasCount });
  } catch (err) {
    return { ok: false, diagnostics: [diag('CONFIG_SYNTAX', `rejected: ${(err as Error).message}`, file)] };
  }
  return {
    ok: true,
    parsed: {
      value,
      locate(pointer: string) {
        const node = nodeAt(doc.contents as Node | null, pointer);
        const range = node?.range;
        return range ? pos(range[0]) : undefined;
      },
    },
  };
}

/**
 * What is wrong with a number JSON has no value for: `.inf`, `.nan`, or one past 1.8e308 (`1e400`), which
 * would pass the schema (ajv takes Infinity for an integer) and reach the workers as null.
 */
export function nonFiniteProblem(source: string): string {
  const shown = source.length > 40 ? `${source.slice(0, 37)}...` : source;
  return /^[-+]?\.(inf|nan)$/i.test(source.trim())
    ? `'${shown}' is not a JSON number: configs and bodies hold finite numbers only (leave a bound out rather than write ${source.trim()})`
    : `'${shown}' is past the largest JSON number (about 1.8e308)`;
}

/** Rejects custom tags, prototype-polluting keys, numbers JSON has no value for and over-deep nesting before any JS object is built. */
function checkShape(root: Node | null, file: string | undefined, pos: (o: number) => { line: number; col: number }, text: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const stack: { node: Node; depth: number; ptr: string }[] = root ? [{ node: root, depth: 1, ptr: '' }] : [];
  while (stack.length > 0 && out.length < 20) {
    const { node, depth, ptr } = stack.pop()!;
    const at = node.range ? pos(node.range[0]) : undefined;
    if (depth > PARSE_LIMITS.maxDepth) {
      out.push(diag('CONFIG_SYNTAX', `nesting deeper than ${PARSE_LIMITS.maxDepth} levels is not allowed`, file, at, ptr));
      break;
    }
    if (node.tag && !CORE_TAGS.has(node.tag)) {
      out.push(diag('CONFIG_SYNTAX', tagProblem(node.tag), file, at, ptr));
      continue;
    }
    if (isScalar(node) && typeof node.value === 'number' && !Number.isFinite(node.value)) {
      out.push(diag('CONFIG_SYNTAX', nonFiniteProblem(node.range ? text.slice(node.range[0], node.range[1]) : String(node.value)), file, at, ptr));
      continue;
    }
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const item of node.items) {
        if (!isPair(item)) continue;
        const k = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const kp = `${ptr}/${escapePointer(k)}`;
        if (seen.has(k)) {
          const kr = (item.key as Node | null)?.range;
          out.push(diag('CONFIG_SYNTAX', `Map keys must be unique: '${k.length > 80 ? `${k.slice(0, 80)}...` : k}' appears twice`, file, kr ? pos(kr[0]) : at, kp));
          continue;
        }
        seen.add(k);
        if (FORBIDDEN_KEYS.has(k)) {
          const kr = (item.key as Node | null)?.range;
          out.push(diag('CONFIG_SYNTAX', `the key '${k}' is not allowed`, file, kr ? pos(kr[0]) : at, kp));
          continue;
        }
        if (item.key && !isScalar(item.key)) {
          out.push(diag('CONFIG_SYNTAX', 'mapping keys must be plain scalars', file, at, ptr));
          continue;
        }
        // `!!merge <<:` would copy another mapping's keys in.
        const keyTag = (item.key as Node | null)?.tag;
        if (keyTag && !CORE_TAGS.has(keyTag)) {
          const kr = (item.key as Node | null)?.range;
          out.push(diag('CONFIG_SYNTAX', tagProblem(keyTag), file, kr ? pos(kr[0]) : at, kp));
          continue;
        }
        if (item.value) stack.push({ node: item.value as Node, depth: depth + 1, ptr: kp });
      }
    } else if (isSeq(node)) {
      node.items.forEach((child, i) => {
        if (child) stack.push({ node: child as Node, depth: depth + 1, ptr: `${ptr}/${i}` });
      });
    }
  }
  return out;
}

export function escapePointer(seg: string): string {
  return seg.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointerSegments(pointer: string): string[] {
  if (pointer === '' || pointer === '/') return [];
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Each mapping's pairs by key, built on first lookup: a file with thousands of keys (and as many
 * problems) is located in linear time, not one scan of the mapping per problem. */
const pairsByKey = new WeakMap<object, Map<string, { key: unknown; value: unknown }>>();
function pairOf(map: { items: unknown[] }, key: string): { key: unknown; value: unknown } | undefined {
  let index = pairsByKey.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) if (isPair(p) && isScalar(p.key) && !index.has(String(p.key.value))) index.set(String(p.key.value), p);
    pairsByKey.set(map, index);
  }
  return index.get(key);
}

function nodeAt(root: Node | null, pointer: string): Node | undefined {
  // Map entries resolve to their key (where people look for a name); list items to the item.
  let node: Node | null | undefined = root;
  let last: Node | undefined = root ?? undefined;
  for (const seg of pointerSegments(pointer)) {
    if (isMap(node)) {
      const pair = pairOf(node, seg);
      if (!pair) break;
      last = pair.key as Node;
      node = pair.value as Node | null;
      continue;
    } else if (isSeq(node)) {
      node = node.items[Number(seg)] as Node | undefined;
    } else break;
    if (!node) break;
    last = node;
  }
  return last;
}

/**
 * Where flow brackets (`[`, `{`) first nest deeper than the limit, before the parser sees the text;
 * quoted strings and comments are skipped. A bracket inside a plain scalar counts too: only 64
 * unclosed ones could make a false alarm.
 */
function flowTooDeep(text: string): { line: number; col: number } | undefined {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 10) {
      line++;
      lineStart = i + 1;
    } else if (ch === 35 && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i + 1 < text.length && text.charCodeAt(i + 1) !== 10) i++;
    } else if (ch === 34 || ch === 39) {
      // A quoted scalar: "..." with backslash escapes, '...' with '' for a quote.
      for (i++; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 10) { line++; lineStart = i + 1; }
        if (ch === 34 && c === 92) i++;
        else if (c === ch) {
          if (ch === 39 && text.charCodeAt(i + 1) === 39) i++;
          else break;
        }
      }
    } else if (ch === 91 || ch === 123) {
      if (++depth > PARSE_LIMITS.maxDepth) return { line, col: i - lineStart + 1 };
    } else if ((ch === 93 || ch === 125) && depth > 0) depth--;
  }
  return undefined;
}
