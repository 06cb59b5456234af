import { recordStderr } from './logger.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export { freePort } from '../../bench/redis.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A test server in a process of its own, running a TypeScript file of test/fixtures. */
export interface ServerProcess {
  readonly child: ChildProcess;
  /** What it printed so far. */
  output(): string;
  /** Sends SIGKILL and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `test/fixtures/<fixture>.ts` with these environment variables and waits
 * for it to print `listening`. The sources run as they are (SWC on load).
 */
export async function startServerProcess(
  fixture: string,
  env: Record<string, string>,
): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    ['--import', './test/support/swc-register.mjs', `test/fixtures/${fixture}.ts`],
    { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = once(child, 'exit');
  const stderr = recordStderr(fixture, child.stderr!);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('listening')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`${fixture} exited (${code}) before listening: ${stderr()}`)),
    );
  });
  return {
    child,
    output: () => out,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
