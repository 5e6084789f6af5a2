/**
 * `{env:NAME}` and `{env:NAME|default}` in configs from the configs directory: expanded from the
 * server's environment once, when the config loads (remote sources' url and headers, remote
 * datasets' url and headers). A config sent over HTTP may not use them (config/sealed.ts). The
 * expanded value may be a secret: messages name the variable, never its value, and URLs are shown
 * redacted (redact.ts).
 */

const ENV_REF = /\{env:([A-Za-z_][A-Za-z0-9_]*)(?:\|([^}]*))?\}/g;
const UNSET = /\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** `s` with every `{env:NAME}` / `{env:NAME|default}` expanded; an unset NAME without a default stays as written. */
export function expandEnv(s: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  return s.replace(ENV_REF, (whole, name: string, dflt: string | undefined) => env[name] ?? dflt ?? whole);
}

/** The variables of an expanded text that were unset and had no default (what `{env:NAME}` is left in it). */
export function unsetEnvNames(expanded: string): string[] {
  return [...expanded.matchAll(UNSET)].map((m) => m[1]!);
}

/** The load error for one unset variable, naming it (never a value). */
export function unsetEnvMessage(name: string): string {
  return `environment variable ${name} is not set, and '{env:${name}}' has no default (write '{env:${name}|default}' for one)`;
}
