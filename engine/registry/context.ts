/**
 * What the publisher's environment says about a model: runtime and language versions, package
 * versions from the nearest package-lock.json (all production dependencies, or a named subset with
 * everything they depend on), the git commit, and user/team tags.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { ContextSpec } from './envelope.js';
import { RegistryError } from './errors.js';

const run = promisify(execFile);

interface LockEntry { version?: string; os?: string[]; cpu?: string[]; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string>; dev?: boolean }
interface Lockfile { lockfileVersion?: number; packages?: Record<string, LockEntry> }

export async function findUp(file: string, from: string): Promise<string | undefined> {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const p = join(dir, file);
    if (await readFile(p).then(() => true, () => false)) return p;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Where `name` resolves from the package at `from` (node's nested node_modules lookup). */
function locate(pkgs: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let base = from; ; ) {
    const p = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (pkgs[p]) return p;
    if (!base) return undefined;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

/** npm's os/cpu lists: allowed names, or '!name' exclusions. Platform-specific optional packages elsewhere are skipped. */
function fitsHere(list: readonly string[] | undefined, here: string): boolean {
  if (!list || list.length === 0) return true;
  if (list.includes(`!${here}`)) return false;
  const allowed = list.filter((x) => !x.startsWith('!'));
  return allowed.length === 0 || allowed.includes(here);
}

/**
 * Package versions from a v2/v3 lockfile. `subset` names the packages the model needs; their
 * dependencies are added transitively. Without it, the root's production dependencies are used.
 */
export function packagesFromLock(lock: Lockfile, subset?: readonly string[]): Record<string, string> {
  const pkgs = lock.packages ?? {};
  const root = pkgs[''] ?? {};
  const start = subset ?? Object.keys(root.dependencies ?? {});
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  const missing: string[] = [];
  const visit = (from: string, name: string): void => {
    const at = locate(pkgs, from, name);
    if (!at) { if (from === '') missing.push(name); return; }
    if (seen.has(at)) return;
    seen.add(at);
    const entry = pkgs[at]!;
    if (!fitsHere(entry.os, process.platform) || !fitsHere(entry.cpu, process.arch)) return;
    if (entry.version && !(name in out)) out[name] = entry.version;
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })) visit(at, dep);
  };
  for (const name of start) visit('', name);
  if (missing.length) throw new RegistryError('ENVELOPE_INVALID', `--package ${missing.join(', ')}: not in package-lock.json (name packages the model needs that the lockfile lists)`);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export async function gitCommit(cwd: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', ['rev-parse', 'HEAD'], { cwd, timeout: 5000 });
    const sha = stdout.trim();
    return /^[0-9a-f]{7,64}$/.test(sha) ? sha : undefined;
  } catch {
    return undefined;
  }
}

export interface ContextOptions {
  readonly cwd?: string;
  /** Package subset (with dependencies); omit for all production dependencies. */
  readonly packages?: readonly string[];
  readonly language?: string;
  readonly languageVersion?: string;
  /** Told, in one line, what could not be recorded (no lockfile, no git checkout) and what was recorded instead. */
  readonly warn?: (message: string) => void;
}

export async function collectContext(opts: ContextOptions = {}): Promise<ContextSpec> {
  const cwd = opts.cwd ?? process.cwd();
  const lockPath = await findUp('package-lock.json', cwd);
  let packages: Record<string, string> = {};
  if (lockPath) packages = packagesFromLock(JSON.parse(await readFile(lockPath, 'utf8')) as Lockfile, opts.packages);
  else if (opts.packages?.length) throw new RegistryError('ENVELOPE_INVALID', `--package ${opts.packages.join(', ')}: no package-lock.json above ${cwd} to take versions from`);
  const commit = await gitCommit(cwd);
  const lacking = [
    ...(lockPath ? [] : [`no package versions (packages: {}; there is no package-lock.json in ${cwd} or a folder above it: publish from the project folder that has one)`]),
    ...(commit ? [] : [`no git commit (${cwd} is not in a git checkout)`]),
  ];
  if (lacking.length) opts.warn?.(`the envelope's context records ${lacking.join(' and ')}; it records runtime node ${process.version} and language ${opts.language ?? 'javascript'}`);
  return {
    runtime: 'node',
    runtimeVersion: process.version,
    language: opts.language ?? 'javascript',
    ...(opts.languageVersion ? { languageVersion: opts.languageVersion } : {}),
    packages,
    ...(commit ? { gitCommit: commit } : {}),
  };
}

/** user and team tags: AIRMAIL_USER / USER / the OS account, and AIRMAIL_TEAM when set. */
export function environmentTags(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  let user = env.AIRMAIL_USER ?? env.USER ?? env.USERNAME;
  if (!user) { try { user = userInfo().username; } catch { user = undefined; } }
  return { ...(user ? { user } : {}), ...(env.AIRMAIL_TEAM ? { team: env.AIRMAIL_TEAM } : {}) };
}
