import type { ChildProcess } from 'node:child_process';

// Request/response over a forked child's IPC channel: the driver asks, the child
// answers each request once, by id.

interface Envelope {
  readonly id: number;
  readonly body?: unknown;
  readonly error?: string;
}

let nextId = 1;

/** Sends `{ cmd, ...args }` to a child and resolves with its answer. */
export function request<T>(child: ChildProcess, cmd: string, args: object = {}): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const onMessage = (message: Envelope) => {
      if (message.id !== id) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (message.error) reject(new Error(`${cmd}: ${message.error}`));
      else resolve(message.body as T);
    };
    const onExit = (code: number | null) => {
      child.off('message', onMessage);
      reject(new Error(`${cmd}: the child exited (${code})`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send({ id, cmd, ...args });
  });
}

/** In a child: answers the driver's requests with these handlers. */
export function serve(handlers: Record<string, (args: any) => unknown>): void {
  process.on('message', (message: { id: number; cmd: string }) => {
    const handler = handlers[message.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        return handler(message);
      })
      .then(
        (body) => process.send!({ id: message.id, body }),
        (error: unknown) => process.send!({ id: message.id, error: String(error) }),
      );
  });
}
