/**
 * Cross-origin calls from a browser (CORS), opt-in with `--cors-origin` / AIRMAIL_CORS_ORIGIN: a
 * storefront page on another origin may run pipelines and models and read /openapi.json. Only the
 * serving routes: config changes, publishing, /execute, /validate and the rest stay same-origin
 * (their answers carry no Access-Control-Allow-Origin, so a browser refuses them).
 *
 * A listener gate (server.ts), before the early 503, the fast lane and the app: a preflight
 * (OPTIONS with Access-Control-Request-Method) is answered here, 204, and is not a request (no
 * metrics, no log line, no worker); an actual request gets its headers here and goes on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEADLINE_HEADER, NOW_HEADER } from './deadline.js';
import { ARM_HEADER } from '../experiments.js';
import { REQUEST_ID_HEADER } from '../observe/request-id.js';

/** `*` (any origin), or the exact origins allowed. */
export type CorsOrigins = '*' | ReadonlySet<string>;

/**
 * Request headers a page may send: the body's type, a request id, and every header the serving
 * routes document in /openapi.json (the deadline, the debug switch and its id count, a pinned now,
 * an experiment's forced arm), so a client generated from that document passes its preflight.
 */
export const CORS_ALLOW_HEADERS: readonly string[] = [
  'content-type', DEADLINE_HEADER, 'x-airmail-debug', 'x-airmail-debug-ids', NOW_HEADER, ARM_HEADER, REQUEST_ID_HEADER,
];
/** Response headers a page may read besides the safelisted ones: when to retry, and the request's id. */
export const CORS_EXPOSE_HEADERS: readonly string[] = ['retry-after', 'retry-after-ms', REQUEST_ID_HEADER];
/** How long a browser may keep a preflight's answer (seconds). */
export const CORS_MAX_AGE_S = 600;

/**
 * `*`, or a comma-separated list of origins (`https://shop.example.com,http://localhost:3000`), as
 * the option is written; an error sentence for anything that is not an origin (a path, a trailing slash).
 */
export function parseCorsOrigins(text: string): CorsOrigins | { error: string } {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) return { error: 'no origin given: name the origins (https://shop.example.com, comma-separated) or * for any' };
  if (parts.includes('*')) return parts.length === 1 ? '*' : { error: '* allows any origin: give it alone, not in a list' };
  for (const p of parts) {
    let origin: string | undefined;
    try {
      const u = new URL(p);
      origin = u.origin === 'null' ? undefined : u.origin;
    } catch {
      origin = undefined;
    }
    if (origin !== p) return { error: `'${p}' is not an origin (scheme://host[:port], no path or trailing slash, as a browser sends it)${origin ? `: did you mean '${origin}'?` : ''}` };
  }
  return new Set(parts);
}

/** The methods a page on another origin may use on `path`, or undefined for a route it may not call. */
export function corsMethods(path: string): readonly string[] | undefined {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (p === '/openapi.json') return ['GET'];
  if (/^\/pipelines\/[^/]+$/.test(p)) return ['GET', 'POST']; // a run (POST, GET ?inputs) or its description
  if (/^\/pipelines\/[^/]+\/run$/.test(p)) return ['GET'];
  if (/^\/models\/[^/]+\/predict$/.test(p)) return ['POST'];
  if (/^\/models\/[^/]+\/query\/[^/]+$/.test(p)) return ['GET'];
  return undefined;
}

/** The gate: true when it answered the request (a preflight). */
export function corsGate(origins: CorsOrigins): (req: IncomingMessage, res: ServerResponse) => boolean {
  const allowHeaders = CORS_ALLOW_HEADERS.join(', ');
  const exposeHeaders = CORS_EXPOSE_HEADERS.join(', ');
  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const methods = corsMethods(q < 0 ? url : url.slice(0, q));
    const origin = req.headers.origin;
    const allowed = origin !== undefined && (origins === '*' || origins.has(origin));
    const allowOrigin = origins === '*' ? '*' : origin ?? '';
    const requested = req.headers['access-control-request-method'];
    if (req.method === 'OPTIONS' && origin !== undefined && requested !== undefined) {
      // Any preflight, of a route a page may call or not (an admin route: no allow headers, the browser refuses).
      const ok = allowed && methods?.includes(requested.toUpperCase()) === true ? methods : undefined;
      req.resume();
      res.writeHead(204, {
        vary: 'Origin',
        ...(ok ? {
          'access-control-allow-origin': allowOrigin,
          'access-control-allow-methods': ok.join(', '),
          'access-control-allow-headers': allowHeaders,
          'access-control-max-age': String(CORS_MAX_AGE_S),
        } : {}),
      });
      res.end();
      return true;
    }
    if (methods === undefined) return false;
    // Every answer of a route a page may call varies by Origin (a cache must not hand one to another page).
    res.setHeader('vary', 'Origin');
    const method = req.method === 'HEAD' ? 'GET' : req.method ?? '';
    if (allowed && methods.includes(method)) {
      res.setHeader('access-control-allow-origin', allowOrigin);
      res.setHeader('access-control-expose-headers', exposeHeaders);
    }
    return false;
  };
}
