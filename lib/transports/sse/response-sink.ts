import type { ServerResponse } from 'node:http';
import type { OutboundFrame } from '../../protocol/index.js';
import { LastSequence } from '../last-sequence.js';
import type { StreamSink } from '../stream-connection.js';
import { WriteCoalescer, type Corkable } from '../write-coalescer.js';

const NL2 = '\n\n';

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

  /** @internal Holds `sink` until the end of the tick. */
  hold(sink: Corkable): void {
    this.coalescer.hold(sink);
  }

  /** @internal The tick's events of one stream, in one buffer. */
  tick(events: readonly Buffer[]): Buffer {
    return events.length === 1
      ? events[0]!
      : this.sequence.bytesOf(events, (all) => Buffer.concat(all));
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
class ResponseSink implements StreamSink, Corkable {
  readonly ids = true;
  /** This tick's events, written at its end (made at the first one). */
  private queue: Buffer[] | undefined;
  private queued = 0;
  private held = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly writer: SseWriter,
  ) {}

  event(id: string | undefined, event: string, data: OutboundFrame | string): void {
    this.push(this.writer.eventBytes(id, event, data));
  }

  comment(text: string): void {
    this.push(this.writer.commentBytes(text));
  }

  get buffered(): number {
    return this.response.writableLength + this.queued;
  }

  end(): void {
    // A stream with bytes still waiting belongs to a client that does not read:
    // ending it would wait for that client, so it is cut.
    if (this.response.writableLength > 0) {
      this.response.destroy();
      return;
    }
    this.flush();
    this.response.end();
  }

  /** Nothing to hold: the queue is written at the end of the tick. */
  cork(): void {}

  uncork(): void {
    this.held = false;
    this.flush();
  }

  private push(bytes: Buffer): void {
    (this.queue ??= []).push(bytes);
    this.queued += bytes.length;
    if (this.held) return;
    this.held = true;
    this.writer.hold(this);
  }

  private flush(): void {
    const { queue, response } = this;
    if (queue === undefined || queue.length === 0) return;
    if (!response.destroyed && !response.writableEnded) response.write(this.writer.tick(queue));
    queue.length = 0;
    this.queued = 0;
  }
}
