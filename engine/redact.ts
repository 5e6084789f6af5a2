/**
 * URLs as they may be shown in a reason, a log line, a span or a debug trace: without user info
 * (`user:password@`) and without the query string, the two places a URL carries secrets (an
 * `{env:TOKEN}` expanded into `?token=...`, credentials in `redis://:password@host`). What is
 * left (scheme, host, path) still says which upstream failed. Header values (`headers:`) are
 * hidden whole: a token there has no URL shape to find.
 */

/** `scheme://[userinfo@]rest[?query][#fragment]` anywhere in a text. */
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@'"]*@)?([^\s?#'"]*)(\?[^\s#'"]*)?(#[^\s'"]*)?/gi;

/** A text with every URL in it redacted (user info → `***@`, query → `?***`). */
export function redactText(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_IN_TEXT, (_, scheme: string, user: string | undefined, rest: string, query: string | undefined) =>
    `${scheme}${user ? '***@' : ''}${rest}${query ? '?***' : ''}`);
}

/**
 * Parameters whose values are credentials as a rule (`headers: {authorization: 'Bearer ...'}`, an
 * API key, often an expanded `{env:TOKEN}`): shown with each value as `***`, names kept.
 */
const SECRET_VALUED = new Set(['headers']);

/** Parameters (any JSON value) with every string's URLs redacted and header values hidden; the input is not changed. */
export function redactParams(v: unknown, key?: string): unknown {
  if (typeof v === 'string') return redactText(v);
  if (Array.isArray(v)) return v.map((x) => redactParams(x));
  if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    const hide = key !== undefined && SECRET_VALUED.has(key);
    for (const [k, x] of Object.entries(v)) out[k] = hide ? '***' : redactParams(x, k);
    return out;
  }
  return v;
}
