// `npm run build:client-package`: @nest-realtime/client in packages/client, built from
// the same lib/client source as `nest-realtime/client` (with the lib/protocol files it
// imports), with its declarations and the repo's LICENSE.
import { spawnSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const client = `${root}packages/client/`;
rmSync(`${client}dist`, { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [`${root}node_modules/typescript/bin/tsc`, '-p', `${client}tsconfig.json`],
  { stdio: 'inherit' },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
copyFileSync(`${root}LICENSE`, `${client}LICENSE`);
console.log('packages/client/dist: built');
