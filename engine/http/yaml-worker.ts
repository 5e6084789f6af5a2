/**
 * Runs in the YAML parse thread (engine/http/yaml-offload.ts): a request body's text → its value,
 * or the diagnostics the main thread would have given. The value is plain JSON (parse.ts allows
 * the core schema's tags only), so it crosses the thread boundary by structured clone.
 */
import { parseConfigText } from '../config/parse.js';
import type { Diagnostic } from '../errors.js';

export type YamlParsed = { ok: true; value: unknown } | { ok: false; diagnostics: Diagnostic[] };

export default function parseYamlBody(text: string): YamlParsed {
  const r = parseConfigText(text, 'request body');
  return r.ok ? { ok: true, value: r.parsed.value } : { ok: false, diagnostics: r.diagnostics };
}
