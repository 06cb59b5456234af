#!/usr/bin/env node
// `npm test`: the whole suite, inside a network namespace of its own that has only
// loopback when this machine allows one (root, with unshare and ip): WebRTC and
// browser tests must never reach the machine's other addresses, and nothing in the
// suite needs more than 127.0.0.1. Elsewhere the suite runs as it is, and the tests
// that need the namespace say loudly that they skip (under CI=true, they fail).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const args = [vitest, 'run', ...process.argv.slice(2)];

const works = (command, commandArgs) =>
  spawnSync(command, commandArgs, { stdio: 'ignore' }).status === 0;
const isolated =
  process.getuid?.() === 0 && works('unshare', ['-n', 'true']) && works('ip', ['-V']);

const run = isolated
  ? spawnSync(
      'unshare',
      ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, ...args],
      { stdio: 'inherit', env: { ...process.env, RT_NETNS: '1' } },
    )
  : spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(run.status ?? 1);
