import { BuiltinEvent } from '../protocol/events.js';
import { RealtimeClientError, type MessageMeta, type PresenceState } from './client-types.js';
import type { Reply } from './client-requests.js';
import { Listeners } from './listeners.js';
import type { RoomSubscription } from './room-subscription.js';
import type { SocketSession } from './socket-session.js';

interface ServerFrame extends Reply {
  event: string;
  id?: string | number;
  room?: string;
  offset?: number;
  epoch?: string;
  ack?: string;
}

/**
 * Where inbound frames go beside the listeners: the handshake, replies, presence
 * states, and the rooms the client keeps.
 *
 * @example
 * ```ts
 * const host: InboundHost = {
 *   connected: (session, info) => resume(session, info),
 *   reply: (id, reply) => requests.settle(id, reply),
 *   presence: (state) => presence.notify(state),
 *   room: (name) => rooms.get(name),
 * };
 * ```
 */
export interface InboundHost {
  /** `rt:connected` came on `session`. */
  connected(session: SocketSession, info: unknown): void;
  /** An `rt:reply` to the client's request `id`. */
  reply(id: number, reply: Reply): void;
  /** An `rt:presence` state. */
  presence(state: PresenceState): void;
  /** The subscription of a room the client keeps. */
  room(name: string): RoomSubscription<any> | undefined;
}

const PONG = JSON.stringify({ event: BuiltinEvent.Pong });
/** How many ids of acknowledged messages are remembered, the oldest going first. */
const MAX_ACKED = 1_000;

/**
 * The client's frames in: each frame, and each frame of an `rt:batch` in order, goes
 * to the listeners of its event and to its room's subscription; replies settle
 * requests; the server's calls go to the client's RPC handlers; `rt:ping` is
 * answered; a message that asks for an acknowledgement is handed over once and
 * acknowledged each time it comes.
 *
 * @example
 * ```ts
 * const inbound = new InboundDispatch(host);
 * inbound.on('chat', (data, { room }) => render(room, data));
 * inbound.receive(session, '{"event":"chat","data":{"text":"hi"}}');
 * ```
 */
export class InboundDispatch {
  private readonly listeners = new Map<string, Listeners<[any, MessageMeta]>>();
  private readonly answers = new Map<string, (params: any) => unknown>();
  /** Ids of acknowledged messages already handled. */
  private readonly acked = new Set<string>();

  constructor(private readonly host: InboundHost) {}

  /** Listens to an event; returns the function that stops. */
  on(event: string, listener: (data: any, meta: MessageMeta) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Listeners()));
    const off = set.add(listener);
    return () => {
      off();
      if (set.size === 0 && this.listeners.get(event) === set) this.listeners.delete(event);
    };
  }

  /** Answers the server's calls of `method`; returns the function that stops. */
  answer(method: string, handler: (params: any) => unknown): () => void {
    this.answers.set(method, handler);
    return () => {
      if (this.answers.get(method) === handler) this.answers.delete(method);
    };
  }

  /** A message of `session`'s socket: a JSON frame, else ignored. */
  receive(session: SocketSession, raw: unknown): void {
    if (typeof raw !== 'string') return;
    let frame: unknown;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (isObject(frame)) this.handle(session, frame as ServerFrame, undefined);
  }

  /**
   * One frame, or each frame of a batch in order: an item without `room` takes the
   * batch's room and place in the room's stream (a one-room batch is one message).
   */
  private handle(session: SocketSession, frame: ServerFrame, batch: MessageMeta | undefined): void {
    const inherits = frame.room === undefined && batch?.room !== undefined;
    const source = inherits ? batch! : frame;
    const room = source.room;
    const subscription = room === undefined ? undefined : this.host.room(room);
    const meta: MessageMeta =
      room === undefined
        ? { event: frame.event }
        : source.offset === undefined
          ? { event: frame.event, room }
          : { event: frame.event, room, offset: source.offset, epoch: source.epoch };
    // A room message seen already (its offset is not past the last one): dropped.
    if (subscription && !inherits && !subscription.accept(meta)) return;
    switch (frame.event) {
      case BuiltinEvent.Connected:
        this.host.connected(session, frame.data);
        return;
      case BuiltinEvent.Ping:
        session.send(PONG);
        return;
      case BuiltinEvent.Batch:
        if (!Array.isArray(frame.data)) return;
        for (const item of frame.data) {
          if (isObject(item)) this.handle(session, item as ServerFrame, meta);
        }
        return;
      case BuiltinEvent.Reply:
        if (typeof frame.id === 'number') this.host.reply(frame.id, frame);
        return;
      case BuiltinEvent.Call:
        if (typeof frame.id === 'string') void this.answerCall(session, frame.id, frame.data);
        return;
      case BuiltinEvent.Resync:
        if (isObject(frame.data) && typeof frame.data.room === 'string') {
          this.host.room(frame.data.room)?.lost(frame.data);
        }
        break;
      case BuiltinEvent.RoomPresence:
        if (isObject(frame.data)) subscription?.applyDiff(frame.data);
        break;
      case BuiltinEvent.Presence:
        if (isObject(frame.data)) this.host.presence(frame.data as PresenceState);
        break;
    }
    if (typeof frame.ack === 'string') {
      // Acknowledged only once something took it: until then the server sends it again.
      if (this.listeners.get(frame.event)?.size) {
        this.acknowledge(session, frame.ack, () => this.dispatch(frame.data, meta, subscription));
      }
    } else {
      this.dispatch(frame.data, meta, subscription);
    }
  }

  private dispatch(
    data: unknown,
    meta: MessageMeta,
    subscription: RoomSubscription<any> | undefined,
  ): void {
    this.listeners.get(meta.event)?.emit(data, meta);
    subscription?.dispatch(data, meta);
  }

  /**
   * A message that asks for an acknowledgement: handled once (a resend carries the
   * same id), acknowledged every time it comes.
   */
  private acknowledge(session: SocketSession, id: string, handle: () => void): void {
    if (!this.acked.has(id)) {
      this.acked.add(id);
      if (this.acked.size > MAX_ACKED) this.acked.delete(this.acked.values().next().value!);
      handle();
    }
    session.send(JSON.stringify({ event: BuiltinEvent.Ack, data: { id } }));
  }

  private async answerCall(session: SocketSession, id: string, data: unknown): Promise<void> {
    const { method, params } = (data ?? {}) as { method?: unknown; params?: unknown };
    const handler = typeof method === 'string' ? this.answers.get(method) : undefined;
    let reply: object;
    if (!handler) {
      reply = {
        error: { code: 'RPC_UNKNOWN_METHOD', message: `no answer for "${String(method)}"` },
      };
    } else {
      try {
        reply = { data: (await handler(params)) ?? null };
      } catch (error) {
        const code = error instanceof RealtimeClientError ? error.code : 'INTERNAL_ERROR';
        reply = {
          error: { code, message: error instanceof Error ? error.message : String(error) },
        };
      }
    }
    // The call belonged to its connection: a later one cannot answer it.
    if (!session.live) return;
    let text: string;
    try {
      text = JSON.stringify({ event: BuiltinEvent.Reply, id, ...reply });
    } catch {
      const error = { code: 'INTERNAL_ERROR', message: 'the answer is not JSON' };
      text = JSON.stringify({ event: BuiltinEvent.Reply, id, error });
    }
    session.send(text);
  }
}

function isObject(value: unknown): value is Record<string, any> {
  return value !== null && typeof value === 'object';
}
