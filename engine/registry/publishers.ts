/**
 * Named publisher tokens: who published over HTTP. With one shared AIRMAIL_ADMIN_TOKEN the registry
 * cannot tell publishers apart; AIRMAIL_PUBLISHER_TOKENS gives each one a token of their own
 * (`alice:TOKEN,bob:TOKEN`, commas or newlines between entries, so a mounted secret file's contents
 * work as they are), and a publish made with one records its name in the `published_by` tag, which
 * no request can set. Either kind of token opens the admin routes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isSafeName } from './envelope.js';

/** The tag the registry sets from the publisher's token; refused in a publish's own tags. */
export const PUBLISHED_BY = 'published_by';

export interface PublisherToken {
  readonly name: string;
  readonly digest: Buffer;
}

export function tokenDigest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Parses `name:token` entries; a malformed one throws, naming it (never the token). */
export function parsePublisherTokens(text: string | undefined): PublisherToken[] {
  const out: PublisherToken[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of (text ?? '').split(/[\s,]+/).filter(Boolean).entries()) {
    const at = entry.indexOf(':');
    const name = at > 0 ? entry.slice(0, at) : '';
    const token = at > 0 ? entry.slice(at + 1) : '';
    if (!isSafeName(name) || token === '') throw new Error(`AIRMAIL_PUBLISHER_TOKENS entry ${i + 1} is not name:token (a name of [A-Za-z0-9._-] before the first ':', a token after it)`);
    if (seen.has(name)) throw new Error(`AIRMAIL_PUBLISHER_TOKENS names publisher '${name}' twice`);
    seen.add(name);
    out.push({ name, digest: tokenDigest(token) });
  }
  return out;
}

/** The publisher whose token `given` is, comparing against every one in constant time; undefined when none. */
export function publisherOf(tokens: readonly PublisherToken[], given: Buffer): string | undefined {
  let found: string | undefined;
  for (const t of tokens) if (timingSafeEqual(t.digest, given) && found === undefined) found = t.name;
  return found;
}
