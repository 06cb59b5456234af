import type { Corkable, WriteCoalescer } from './write-coalescer.js';

/**
 * The bytes sent to one stream in one tick, written together at its end: the
 * first push asks the coalescer to hold the stream, and its release (or a flush
 * before the stream ends) writes them in one go. The queue is made at the first
 * push, so an idle stream keeps none.
 *
 * @example
 * ```ts
 * const queue = new TickQueue(coalescer, (parts) => response.write(Buffer.concat(parts)));
 * queue.push(Buffer.from('data: 1\n\n')); // written at the end of this tick
 * ```
 */
export class TickQueue implements Corkable {
  private parts: Buffer[] | undefined;
  private held = false;
  /** Bytes pushed this tick and not yet written. */
  queued = 0;

  constructor(
    private readonly coalescer: WriteCoalescer,
    private readonly write: (parts: readonly Buffer[]) => void,
  ) {}

  push(bytes: Buffer): void {
    (this.parts ??= []).push(bytes);
    this.queued += bytes.length;
    if (this.held) return;
    this.held = true;
    this.coalescer.hold(this);
  }

  /** Writes what this tick queued, now. */
  flush(): void {
    const { parts } = this;
    if (parts === undefined || parts.length === 0) return;
    this.write(parts);
    parts.length = 0;
    this.queued = 0;
  }

  /** Nothing to hold: the queue is written when the tick ends. */
  cork(): void {}

  /** @internal The tick ended (see WriteCoalescer). */
  uncork(): void {
    this.held = false;
    this.flush();
  }
}
