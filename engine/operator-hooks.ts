/**
 * Module hooks that make a custom operator folder load the way the README shows, wherever it is:
 *
 *  - `import { defineOperator } from 'airmail/engine/api.js'` resolves to the very API module the
 *    engine runs (engine/api.ts from source, dist/engine/api.js when built), from inside the repo or
 *    from a folder anywhere else, with no install, link or package.json;
 *  - a `.ts`/`.js` file written with `import`/`export` whose package scope declares no `"type"` (a
 *    folder with no package.json at all) is an ES module. Left alone, Node calls such a file
 *    CommonJS, tsx compiles it to `require()` calls, and its import of the ESM engine fails with
 *    ERR_REQUIRE_CYCLE_MODULE. Files under node_modules, files without ESM syntax and an explicit
 *    `"type": "commonjs"` are left as they are.
 *
 * Node 20 runs module hooks per thread and does not hand them to worker threads, so each thread
 * registers them just before it first imports an operator folder (config/load.ts on the main thread,
 * the exec worker in workers): registering starts a hooks thread, so a process whose configs have no
 * operator folder starts none; registering twice in one thread is a no-op. The hooks run on Node's hooks thread, which cannot load TypeScript (tsx is not registered
 * there), so they are plain JavaScript handed over as a data: URL: one source for the source and the
 * built layout alike.
 */
import { register } from 'node:module';

/** What an operator file imports the public API as. */
export const PUBLIC_API_SPECIFIER = 'airmail/engine/api.js';

/** The API module this engine runs: TypeScript when the engine itself runs from source. */
export const PUBLIC_API_URL = new URL(import.meta.url.endsWith('.ts') ? './api.ts' : './api.js', import.meta.url).href;

const HOOKS = `
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
let specifier = '';
let api = '';
export function initialize(data) { specifier = data.specifier; api = data.api; }
const SOURCE = /\\.(tsx?|jsx?)$/;
const ESM_SYNTAX = /^[ \\t]*(import([ \\t]+[\\w{*'"]|[ \\t]*[{*'"])|export[ \\t{*])/m;
const declared = new Map();
function declaredType(dir) {
  if (declared.has(dir)) return declared.get(dir);
  let type;
  try { type = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type ?? null; }
  catch (err) { type = err && err.code === 'ENOENT' ? (dirname(dir) === dir ? null : declaredType(dirname(dir))) : null; }
  declared.set(dir, type);
  return type;
}
function esm(path) {
  try { return ESM_SYNTAX.test(readFileSync(path, 'utf8')); } catch { return false; }
}
export async function resolve(spec, context, next) {
  if (spec === specifier) return next(api, context);
  const r = await next(spec, context);
  if (r.format === 'module' || !r.url.startsWith('file:') || context.conditions?.includes('require')) return r;
  const path = fileURLToPath(r.url.split(/[?#]/)[0]);
  if (!SOURCE.test(path) || path.includes('/node_modules/') || declaredType(dirname(path)) !== null || !esm(path)) return r;
  return { ...r, format: 'module' };
}
`;

let registered = false;

/** Registers the hooks in the calling thread (once). */
export function registerOperatorHooks(): void {
  if (registered) return;
  registered = true;
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: { specifier: PUBLIC_API_SPECIFIER, api: PUBLIC_API_URL } });
}
