import { request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import type { Harness } from './fixtures.js';

/** One block of an event stream, as the wire has it (fields absent when not sent). */
export interface SseBlock {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  readonly retry?: number;
  /** Comment lines (the keep-alive), without their colon. */
  readonly comments: string[];
}

/**
 * A raw HTTP reader of an event stream, for tests that look at the bytes: the
 * status and headers, then each block (event, comment or retry) in order.
 */
export class SseTestClient {
  readonly blocks: SseBlock[] = [];
  /** The body of a refusal (not an event stream). */
  body = '';
  private buffer = '';
  private waiters: (() => void)[] = [];
  private ended = false;

  private constructor(
    readonly request: ClientRequest,
    readonly response: IncomingMessage,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (response.statusCode !== 200) {
        this.body += chunk;
      } else {
        this.buffer += chunk;
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) !== -1) {
          this.blocks.push(parseBlock(this.buffer.slice(0, end)));
          this.buffer = this.buffer.slice(end + 2);
        }
      }
      this.wake();
    });
    response.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  /** Opens a stream (GET) and resolves once the response's head has arrived. */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseTestClient> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } });
      request.on('response', (response) => resolve(new SseTestClient(request, response)));
      request.on('error', reject);
      request.end();
    });
  }

  get status(): number {
    return this.response.statusCode!;
  }

  /** Whether the server ended the stream (or the connection went). */
  get closed(): boolean {
    return this.ended;
  }

  /** The events (blocks with an `event` field), in order. */
  get events(): SseBlock[] {
    return this.blocks.filter((block) => block.event !== undefined);
  }

  /** The id of the last block that had one: what a browser would send back. */
  get lastEventId(): string | undefined {
    return this.blocks.findLast((block) => block.id !== undefined)?.id;
  }

  /** Waits until `check` holds, or the stream ends, or the time runs out. */
  async until(check: () => boolean, timeout = 3_000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('the stream did not get there in time');
      if (this.ended) throw new Error('the stream ended first');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }

  /** The body of a refusal, once it has all arrived. */
  async refusal(): Promise<{ error: { code: string; message: string } }> {
    await new Promise<void>((resolve) => {
      if (this.response.complete) resolve();
      else this.response.once('end', () => resolve());
    });
    return JSON.parse(this.body);
  }

  /** Cuts the stream from the client's side. */
  close(): void {
    this.request.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

function parseBlock(text: string): SseBlock {
  const block: { id?: string; event?: string; data?: string; retry?: number; comments: string[] } =
    { comments: [] };
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) {
      block.comments.push(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') block.id = value;
    else if (field === 'event') block.event = value;
    else if (field === 'data')
      block.data = block.data === undefined ? value : `${block.data}\n${value}`;
    else if (field === 'retry') block.retry = Number(value);
  }
  return block;
}

/** The JSON of an event's data. */
export function dataOf(block: SseBlock): any {
  return JSON.parse(block.data ?? 'null');
}

/** The app's HTTP base URL. */
export function httpBase(app: { readonly port: number }): string {
  return `http://127.0.0.1:${app.port}`;
}

/** Opens a stream of the built-in endpoint (`?room=...`), cut when the harness cleans up. */
export async function openStream(
  harness: Harness,
  app: { readonly port: number },
  query: string,
  headers?: Record<string, string>,
): Promise<SseTestClient> {
  const client = await SseTestClient.open(`${httpBase(app)}/realtime/events?${query}`, headers);
  harness.defer(() => client.close());
  return client;
}

/** Events that are messages (not the stream's own rt:connected, rt:joined, rt:resync). */
export function messages(client: SseTestClient): SseBlock[] {
  return client.events.filter(
    (e) => !['rt:connected', 'rt:joined', 'rt:resync'].includes(e.event!),
  );
}

/** Waits for the stream's rt:joined (every room joined), and resolves with its data. */
export async function joined(client: SseTestClient): Promise<any> {
  await client.until(() => client.events.some((e) => e.event === 'rt:joined'));
  return dataOf(client.events.find((e) => e.event === 'rt:joined')!);
}
