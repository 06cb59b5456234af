import { ErrorCode } from './codes.js';
import { BUILTIN_EVENT_PREFIX } from './events.js';
import { MAX_EVENT_LENGTH } from './limits.js';
import { RealtimeError } from './realtime-error.js';

/**
 * A message as user code emits it: an event name and a JSON-serialisable payload.
 *
 * @example
 * ```ts
 * const messages: OutboundMessage[] = [{ event: 'tick', data: 1 }, { event: 'tick', data: 2 }];
 * await hub.to('clock').emitBatch(messages);
 * ```
 */
export interface OutboundMessage {
  readonly event: string;
  readonly data?: unknown;
}

/**
 * What a transport needs to know of a frame besides its bytes: its event, its data,
 * and for a room message its room and place (offset, epoch), for an acknowledged one
 * its ack id. The SSE and gRPC transports write these as fields of their own.
 *
 * @example
 * ```ts
 * const facts: FrameFacts = { event: 'chat', data: 'hi', room: 'lobby', offset: 4, epoch: 'Zk3x' };
 * ```
 */
export interface FrameFacts {
  readonly event: string;
  readonly data?: unknown;
  readonly room?: string;
  readonly offset?: number;
  readonly epoch?: string;
  readonly ack?: string;
}

/**
 * An encoded frame as the core hands it to every recipient: the bytes, encoded once
 * (a Buffer, so that ws writes it as is), and its {@link FrameFacts}. A frame the core
 * encoded on this node carries the facts it was made from; one that came from
 * another node through the engine has only bytes, and is read once, the first time a
 * transport asks, however many connections it goes to. No transport parses a frame.
 *
 * @example
 * ```ts
 * const frame = encodeFrame({ event: 'tick', data: 1 });
 * frame.bytes; // what a WebSocket is written
 * frame.facts; // { event: 'tick', data: 1 }: what an SSE stream needs
 * ```
 */
export class OutboundFrame {
  private known: FrameFacts | null | undefined;
  private decoded: string | undefined;
  private dataText: string | undefined;
  private line: string | undefined;

  constructor(
    /** The frame's bytes: one JSON object. Shared by every recipient: never changed. */
    readonly bytes: Buffer,
    /** What is known of it already (null: not a frame); read from the bytes when needed if absent. */
    facts?: FrameFacts | null,
    /** Its `data` as JSON text, when known. */
    dataJson?: string,
  ) {
    this.known = facts;
    this.dataText = dataJson;
  }

  /** The frame's facts; null for bytes that are not a frame (no string `event`). */
  get facts(): FrameFacts | null {
    if (this.known === undefined) this.known = readFacts(this.text);
    return this.known;
  }

  /** The frame as text (a data channel sends text), decoded once. */
  get text(): string {
    return (this.decoded ??= this.bytes.toString('utf8'));
  }

  /**
   * The frame's event as one line (CR and LF left out), for a text protocol that gives
   * it a line of its own (an SSE `event:` field); made once, however many streams ask.
   */
  get eventLine(): string {
    const event = this.facts?.event ?? '';
    return (this.line ??= /[\r\n]/.test(event) ? event.replace(/[\r\n]/g, '') : event);
  }

  /** The frame's `data` as JSON text (`null` without one), encoded at most once. */
  get dataJson(): string {
    return (this.dataText ??= JSON.stringify(this.facts?.data ?? null));
  }
}

/** The facts of a frame's text, or null when it is not a frame. */
function readFacts(text: string): FrameFacts | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const { event, data, room, offset, epoch, ack } = (value ?? {}) as Record<string, unknown>;
  if (typeof event !== 'string') return null;
  return {
    event,
    data,
    ...(typeof room === 'string' && { room }),
    ...(Number.isSafeInteger(offset) && { offset: offset as number }),
    ...(typeof epoch === 'string' && { epoch }),
    ...(typeof ack === 'string' && { ack }),
  };
}

/**
 * Serialises a frame once, to the bytes every recipient is sent, and keeps what it
 * was made of for the transports that need its fields.
 *
 * @example
 * ```ts
 * const frame = encodeFrame({ event: 'tick', data: 1 });
 * for (const connection of hub.connections.list()) connection.send(frame);
 * ```
 */
export function encodeFrame(frame: FrameFacts | object): OutboundFrame {
  const { event, data, ...rest } = frame as FrameFacts;
  if (typeof event !== 'string' || typeof (frame as { toJSON?: unknown }).toJSON === 'function') {
    return new OutboundFrame(Buffer.from(JSON.stringify(frame)));
  }
  // Built from its parts, so that `data` is serialised once, for the bytes and for
  // the transports that carry it as a field of their own (gRPC's Event.data).
  const dataJson = data === undefined ? undefined : JSON.stringify(data);
  const others = JSON.stringify(rest);
  const text =
    `{"event":${JSON.stringify(event)}` +
    (dataJson === undefined ? '' : `,"data":${dataJson}`) +
    (others.length > 2 ? `,${others.slice(1)}` : '}');
  return new OutboundFrame(Buffer.from(text), frame as FrameFacts, dataJson ?? 'null');
}

/**
 * Checks an event name that user code emits: a non-empty string of at most
 * {@link MAX_EVENT_LENGTH} characters, outside the reserved `rt:` prefix.
 *
 * @throws RealtimeError with code INVALID_DATA.
 */
export function assertUserEvent(event: unknown): asserts event is string {
  if (typeof event !== 'string' || event.length === 0 || event.length > MAX_EVENT_LENGTH) {
    throw new RealtimeError(
      ErrorCode.InvalidData,
      `event must be a non-empty string of at most ${MAX_EVENT_LENGTH} characters`,
    );
  }
  if (event.startsWith(BUILTIN_EVENT_PREFIX)) {
    throw new RealtimeError(
      ErrorCode.InvalidData,
      `events starting with "${BUILTIN_EVENT_PREFIX}" are reserved`,
    );
  }
}
