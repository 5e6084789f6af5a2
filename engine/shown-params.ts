/**
 * A step's parameters as people read them: in empty-answer reasons, log lines, debug steps, spans
 * and why answers. URLs and credentials are redacted (redact.ts), long values cut, `where` windows
 * and time bounds written out as instants. The executor and observe/ both show parameters so; this
 * is presentation, not execution, so it lives beside the executor rather than in it.
 */
import type { PlanStep } from './config/plan.js';
import { setAt } from './config/refs.js';
import { redactParams } from './redact.js';
import { formatInstant, parseInstant } from './time.js';

/** Short `name=value` summary of parameters, for reasons and logs. */
export function summarize(params: unknown, keys?: readonly string[]): string {
  if (!params || typeof params !== 'object') return '';
  return Object.entries(params as Record<string, unknown>)
    .filter(([k]) => !keys || keys.includes(k))
    .map(([k, v]) => {
      // Reasons, logs, spans and why answers show this: URLs lose their user info and query string.
      const shown = redactParams(v, k);
      if (k === 'where' && isPlain(shown)) return `where={${Object.entries(shown).map(([c, w]) => whereEntry(c, w)).join(', ')}}`;
      return `${k}=${clip(shown)}`;
    })
    .join(', ');
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as text, cut to 40 characters (a long id list); empty text as `""`, not as nothing. */
function clip(v: unknown): string {
  const s = typeof v === 'string' && v !== '' ? v : JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** `client_id=17`, or a window in full: `purchased_at>=2024-09-01T00:00:00Z (now-30d)`, `price>=10, price<=20`. */
function whereEntry(column: string, w: unknown): string {
  if (!isPlain(w)) return `${column}=${clip(w)}`;
  const out: string[] = [];
  if (w.min !== undefined && w.min !== null) out.push(`${column}>=${typeof w.min === 'string' ? w.min : JSON.stringify(w.min)}`);
  if (w.max !== undefined && w.max !== null) out.push(`${column}<=${typeof w.max === 'string' ? w.max : JSON.stringify(w.max)}`);
  return out.length ? out.join(', ') : `${column}=${clip(w)}`;
}

/**
 * Parameters as reasons, debug steps and why show them: a time bound as its instant and what was
 * written (`2024-09-01T00:00:00Z (now-30d)`), where the operator receives epoch ms.
 */
export function shownParams(step: PlanStep, params: unknown): unknown {
  let out = params;
  for (const site of step.sites) {
    if (site.ref.kind !== 'time' && !site.instant) continue;
    let v: unknown = params;
    for (const seg of site.path) v = (v as Record<string | number, unknown> | undefined)?.[seg];
    // An input's or context row's instant (ISO text as sent, or epoch ms) is shown as a bound written as one.
    if (typeof v === 'string' && site.ref.kind !== 'time') v = parseInstant(v);
    if (typeof v !== 'number') continue;
    const iso = formatInstant(v);
    out = setAt(out, site.path, site.ref.kind === 'time' && site.ref.bound.kind === 'relative' ? `${iso} (${site.text})` : iso);
  }
  return out;
}
