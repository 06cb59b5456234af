import type { ServerResponse } from 'node:http';
import type { OutboundFrame } from '../../protocol/index.js';
import { LastSequence } from '../last-sequence.js';
import type { StreamSink } from '../stream-connection.js';
import { TickQueue } from '../tick-queue.js';
import { WriteCoalescer } from '../write-coalescer.js';

const NL2 = '\n\n';
const concat = (parts: readonly Buffer[]) => Buffer.concat(parts);

/**
 * What every stream of the SSE endpoint shares: one write per stream per tick,
 * and the bytes of an event made once for all the streams it goes to. A room's
 * message reaches its streams one after the other with the same id (their place
 * in the room), so the last event's bytes, and the last tick's sequence of them,
 * serve every stream of the room.
 *
 * @example
 * ```ts
 * const writer = new SseWriter();
 * const connection = sse.open(principal, writer.sink(response), ['lobby']);
 * ```
 */
export class SseWriter {
  private readonly coalescer = new WriteCoalescer();
  private readonly sequence = new LastSequence();
  private last:
    { id: string | undefined; event: string; frame: OutboundFrame; bytes: Buffer } | undefined;
  private comment: { text: string; bytes: Buffer } | undefined;

  /** The sink of one stream, writing to `response`. */
  sink(response: ServerResponse): StreamSink {
    return new ResponseSink(response, this);
  }

  /** @internal A stream's queue of the tick's events, written by `write`. */
  queue(write: (events: readonly Buffer[]) => void): TickQueue {
    return new TickQueue(this.coalescer, write);
  }

  /** @internal The tick's events of one stream, in one buffer. */
  tick(events: readonly Buffer[]): Buffer {
    return events.length === 1 ? events[0]! : this.sequence.bytesOf(events, concat);
  }

  /** @internal A comment line's bytes (the keep-alive's are the same every time). */
  commentBytes(text: string): Buffer {
    if (this.comment?.text !== text) {
      this.comment = { text, bytes: Buffer.from(`:${text ? ` ${text}` : ''}${NL2}`) };
    }
    return this.comment.bytes;
  }

  /** @internal One event's bytes: `id:` (when given), `event:`, `data:` and the blank line. */
  eventBytes(id: string | undefined, event: string, data: OutboundFrame | string): Buffer {
    const { last } = this;
    if (
      typeof data !== 'string' &&
      last?.frame === data &&
      last.id === id &&
      last.event === event
    ) {
      return last.bytes;
    }
    const head = `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: `;
    const body = typeof data === 'string' ? data : data.bytes;
    const headLength = Buffer.byteLength(head);
    const bodyLength = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    const bytes = Buffer.allocUnsafe(headLength + bodyLength + 2);
    bytes.write(head, 0);
    if (typeof body === 'string') bytes.write(body, headLength);
    else body.copy(bytes, headLength);
    bytes.write(NL2, headLength + bodyLength);
    if (typeof data !== 'string') this.last = { id, event, frame: data, bytes };
    return bytes;
  }
}

/**
 * Events written to the response once per tick, all of them in one write (one
 * HTTP chunk); what waits unsent is the response's to tell, and this tick's queue.
 */
class ResponseSink implements StreamSink {
  readonly ids = true;
  private readonly queue: TickQueue;

  constructor(
    private readonly response: ServerResponse,
    private readonly writer: SseWriter,
  ) {
    this.queue = writer.queue((events) => {
      if (!response.destroyed && !response.writableEnded) response.write(writer.tick(events));
    });
  }

  event(id: string | undefined, event: string, data: OutboundFrame | string): void {
    this.queue.push(this.writer.eventBytes(id, event, data));
  }

  comment(text: string): void {
    this.queue.push(this.writer.commentBytes(text));
  }

  get buffered(): number {
    return this.response.writableLength + this.queue.queued;
  }

  end(): void {
    // A stream with bytes still waiting belongs to a client that does not read:
    // ending it would wait for that client, so it is cut.
    if (this.response.writableLength > 0) {
      this.response.destroy();
      return;
    }
    this.queue.flush();
    this.response.end();
  }
}
