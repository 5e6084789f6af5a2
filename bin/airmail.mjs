#!/usr/bin/env node
// Composition root: picks the built JS (dist/) when present, else the
// TypeScript sources through tsx, and injects the built-in operators.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const built = existsSync(join(root, 'dist/engine/cli.js')) && !process.env.AIRMAIL_FROM_SOURCE;
if (!built) {
  const { register } = await import('tsx/esm/api');
  register();
}
const base = built ? join(root, 'dist') : root;
const ext = built ? '.js' : '.ts';
const operatorsUrl = pathToFileURL(join(base, `operators/index${ext}`)).href;
const { main } = await import(pathToFileURL(join(base, `engine/cli${ext}`)).href);
const { builtinOperators } = await import(operatorsUrl);
const code = await main(process.argv.slice(2), {
  operators: builtinOperators,
  operatorModules: [operatorsUrl],
  defaultConfigs: join(root, 'configs'),
  version: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
});
process.exitCode = code;
// A failed command exits now: a file system call that never returns (mkdir under /proc) would keep it alive.
if (code !== 0) process.exit(code);
