import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

/** A port nothing listens on now (taken from the kernel, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A redis-server of its own, on a free port, without persistence. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Where redis-server is installed, if it is. */
export const REDIS_BINARY = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((path) =>
  existsSync(path),
);

/**
 * Starts redis-server on a free port (or `port`), and waits until it accepts
 * connections. A free port another process took meanwhile is picked again.
 */
export async function startRedis(port?: number): Promise<RedisServer> {
  if (!REDIS_BINARY) throw new Error('redis-server is not installed');
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOn(port ?? (await freePort()));
    } catch (error) {
      if (port !== undefined || attempt === 3) throw error;
    }
  }
}

async function startRedisOn(chosen: number): Promise<RedisServer> {
  const child = spawn(
    REDIS_BINARY!,
    ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return {
    url: `redis://127.0.0.1:${chosen}`,
    port: chosen,
    child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
