/**
 * Request bodies: JSON or YAML by Content-Type, with prototype-polluting keys
 * refused. The size limit is enforced earlier, by middleware, before any
 * handler reads the stream.
 */
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import type { Context } from 'hono';
import { AirmailError } from '../errors.js';
import { clip, formatDiagnostic, summarise } from '../errors.js';
import { PARSE_LIMITS } from '../config/parse.js';
import { parseYamlBody } from './yaml-offload.js';

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const FORBIDDEN_TEXT = /__proto__|constructor|prototype/;

export type BodyFormat = 'json' | 'yaml';

/** What every body-reading route accepts (text/plain is not JSON: a client that sends it meant something else). */
const ACCEPTED = 'application/json (or a +json type), application/yaml or text/yaml';

export function bodyFormat(c: Context, fallback: BodyFormat | undefined): BodyFormat {
  const ct = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/json' || ct.endsWith('+json')) return 'json';
  if (ct === 'application/yaml' || ct === 'text/yaml' || ct === 'application/x-yaml' || ct === 'text/x-yaml') return 'yaml';
  if (ct === '' && fallback) return fallback;
  // `curl -d` sends this type unless told otherwise: say how to send JSON with it.
  const hint = ct === 'application/x-www-form-urlencoded' ? " (curl -d sends this type: add -H 'content-type: application/json')" : '';
  throw new AirmailError('UNSUPPORTED_MEDIA_TYPE', `Content-Type '${ct || '(none)'}' is not supported here; send ${ACCEPTED}${hint}`);
}

/** Charsets a body may declare: its bytes are read as UTF-8, of which US-ASCII is a part. */
const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/** The charset a Content-Type names (lower case, unquoted), or undefined when it names none. */
export function charsetOf(type: string): string | undefined {
  const params = type.split(';');
  for (let i = 1; i < params.length; i++) {
    const p = params[i]!;
    const eq = p.indexOf('=');
    if (eq >= 0 && p.slice(0, eq).trim().toLowerCase() === 'charset') return p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return undefined;
}

/**
 * A body declared in another charset (`charset=utf-16`, `latin1`) is a 415: its bytes would be
 * read as UTF-8 and come out as other text, or as U+FFFD, without a word.
 */
export function checkCharset(type: string | undefined): void {
  if (type === undefined || !type.includes(';')) return;
  const cs = charsetOf(type);
  if (cs !== undefined && !UTF8_CHARSETS.has(cs)) {
    throw new AirmailError('UNSUPPORTED_MEDIA_TYPE', `charset '${clip(cs, 40)}' is not supported: send the body in UTF-8 (charset=utf-8 or us-ascii, or no charset)`);
  }
}

/** Whether a Content-Type names no charset or one read as UTF-8 (what the fast lane takes; the app answers the rest). */
export function utf8Charset(type: string): boolean {
  if (!type.includes(';')) return true;
  const cs = charsetOf(type);
  return cs === undefined || UTF8_CHARSETS.has(cs);
}

/**
 * A body's bytes as text, a byte order mark dropped. Bytes that are not UTF-8 are a 400 rather
 * than U+FFFD in the inputs (a lookup of a mangled id finds nothing and answers 200, empty).
 * isUtf8 is one SIMD pass: tens of nanoseconds on a normal body.
 */
export function utf8Body(bytes: Uint8Array): string {
  if (!isUtf8(bytes)) throw new AirmailError('BODY_UNPARSABLE', 'the body is not valid UTF-8');
  const text = (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A body of inputs that is not an object (`[1]`, `null`, `"x"`): 422 with a pointer at the root, as other input errors. */
export function inputsNotAnObject(what = 'a JSON object of inputs'): AirmailError {
  return new AirmailError('INPUT_INVALID', `the body must be ${what}`, { details: { errors: [{ path: '', message: `must be ${what}` }] } });
}

/** Deepest `{`/`[` nesting of a JSON text (strings skipped), stopping once past `limit`. */
export function jsonDepth(text: string, limit: number = PARSE_LIMITS.maxDepth): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++; // backslash: skip the escaped char
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 123 || ch === 91) {
      if (++depth > max && (max = depth) > limit) return max;
    } else if (ch === 125 || ch === 93) depth--;
  }
  return max;
}

const notJson = (err: unknown): AirmailError => new AirmailError('BODY_UNPARSABLE', `the body is not valid JSON: ${(err as Error).message}`);

export function parseJsonStrict(text: string): unknown {
  if (jsonDepth(text) > PARSE_LIMITS.maxDepth) throw new AirmailError('BODY_UNPARSABLE', `the body nests deeper than ${PARSE_LIMITS.maxDepth} levels`);
  // A reviver makes JSON.parse several times slower; it is needed only when a forbidden key could be in the text
  // (spelled out, or hidden behind a \u escape).
  if (!text.includes('\\') && !FORBIDDEN_TEXT.test(text)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw notJson(err);
    }
  }
  let bad: string | undefined;
  let value: unknown;
  try {
    value = JSON.parse(text, function reviver(this: unknown, key: string, v: unknown) {
      if (FORBIDDEN.has(key)) bad = key;
      return v;
    });
  } catch (err) {
    throw notJson(err);
  }
  if (bad) throw new AirmailError('BODY_UNPARSABLE', `the key '${bad}' is not allowed in request bodies`);
  return value;
}

/** A YAML body's value; a large body is parsed off the main thread (./yaml-offload.ts). */
export async function parseYamlStrict(text: string): Promise<unknown> {
  const r = await parseYamlBody(text);
  if (!r.ok) {
    throw new AirmailError('BODY_UNPARSABLE', summarise('the body is not valid YAML', r.diagnostics.map(formatDiagnostic)), { diagnostics: r.diagnostics });
  }
  return r.value;
}

/** Reads and parses the body; an empty body is `{}`. A charset other than UTF-8 is a 415, bytes that are not UTF-8 a 400. */
export async function readBody(c: Context, fallback: BodyFormat | undefined): Promise<{ value: unknown; text: string; format: BodyFormat }> {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length > 0) checkCharset(c.req.header('content-type'));
  const text = utf8Body(bytes);
  if (text.trim() === '') return { value: {}, text, format: fallback ?? 'json' };
  const format = bodyFormat(c, fallback);
  return { value: format === 'json' ? parseJsonStrict(text) : await parseYamlStrict(text), text, format };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** A body over the limit is read and dropped, so that its 413 reaches the client, up to this size and time. */
export const LINGER_BYTES = 16 * 1024 * 1024;
const LINGER_MS = 2000;

/** Reads `body` to its end and drops it: true once it ended within LINGER_MS, else false. */
export function drained(body: Readable): Promise<boolean> {
  if (body.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      body.off('end', onEnd).off('error', onError);
      resolve(ok);
    };
    const onEnd = (): void => done(true);
    const onError = (): void => done(false);
    const timer = setTimeout(() => done(false), LINGER_MS);
    body.on('end', onEnd).on('error', onError).resume();
  });
}
