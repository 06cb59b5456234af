import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from './ipc.js';

const here = dirname(fileURLToPath(import.meta.url));

/** A forked bench process, closed (and killed if need be) by `stop`. */
export interface Child {
  readonly process: ChildProcess;
  ask<T = unknown>(cmd: string, args?: object): Promise<T>;
  stop(): Promise<void>;
}

function spawn(
  script: string,
  args: string[],
  execArgv: string[],
  env: Record<string, string> = {},
): Child {
  const child = fork(join(here, script), args, {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    process: child,
    ask: (cmd, extra) => request(child, cmd, extra),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await request(child, 'close').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The server under test: its own process, with `gc` exposed for memory figures. */
export async function startServer(
  peer: string,
  env: Record<string, string> = {},
): Promise<{ server: Child; port: number }> {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each server process there.
  const profile = process.env.BENCH_CPU_PROF;
  const server = spawn(
    'server.js',
    [peer],
    [
      '--expose-gc',
      '--max-old-space-size=8192',
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
    ],
    env,
  );
  const { port } = await server.ask<{ port: number }>('start');
  return { server, port };
}

/** A process of load clients: WebSocket ones (clients.js) unless another script is named. */
export function startClients(script = 'clients.js'): Child {
  return spawn(script, [], ['--max-old-space-size=8192']);
}
