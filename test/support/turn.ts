// coturn (Debian's `turnserver`) on loopback with `use-auth-secret`, for the test
// that relays a call through it with credentials the server minted.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './processes.js';
import { skipLoudly } from './fixtures.js';

const TURNSERVER = ['/usr/bin/turnserver', '/usr/local/bin/turnserver'].find((path) =>
  existsSync(path),
);

/**
 * Whether coturn is here. Without it, the TURN test skips with a loud message; with
 * CI=true its absence fails it (.ci/run installs coturn).
 */
export function turnAvailable(): boolean {
  if (TURNSERVER) return true;
  return skipLoudly('turnserver (coturn) is not installed: the TURN relay test is SKIPPED');
}

/** A running coturn, and how to stop it. */
export interface TurnServer {
  readonly url: string;
  readonly secret: string;
  /** What it logged (allocations show there). */
  readonly log: () => string;
  stop(): Promise<void>;
}

/** Starts coturn on a free loopback port, relaying on loopback, with a TURN REST secret. */
export async function startTurn(secret = 'test-turn-secret'): Promise<TurnServer> {
  const port = await freePort();
  const relayPorts = await freePort();
  let output = '';
  const child: ChildProcess = spawn(
    TURNSERVER!,
    [
      '-n', // no configuration file
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      `--min-port=${relayPorts}`,
      `--max-port=${relayPorts + 50}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=nest-realtime.test',
      '--allow-loopback-peers',
      '--fingerprint',
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--simple-log',
      '--log-file=stdout',
      '--verbose',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!/listener opened on|Total (UDP|General) servers/i.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`turnserver did not start:\n${output.slice(-2_000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `turn:127.0.0.1:${port}?transport=udp`,
    secret,
    log: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
      }),
  };
}
