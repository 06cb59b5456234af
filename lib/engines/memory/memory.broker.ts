import type { StreamPosition } from '../../protocol/stream-position.js';
import type { Broker, EnginePublication, RoomPublication, RoomRead } from '../broker.interface.js';
import type { MemoryNode, MemoryStore } from './memory-store.js';

/**
 * The broker of the memory engine: publications are delivered synchronously, inside
 * `publish`, so a message emitted by a handler has reached every local socket's
 * buffer when the handler returns; room streams live in the store.
 *
 * @example
 * ```ts
 * await new MemoryEngine().broker.publish({ channels: ['*'], frame, except: [] });
 * ```
 */
export class MemoryBroker implements Broker {
  /** @param node this engine's node in the store, once started. */
  constructor(
    private readonly store: MemoryStore,
    private readonly node: () => MemoryNode | undefined,
  ) {}

  async publish(publication: EnginePublication): Promise<void> {
    this.store.deliver(this.node(), publication);
  }

  async subscribe(channel: string): Promise<void> {
    this.node()?.channels.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.node()?.channels.delete(channel);
  }

  async publishToRoom({
    room,
    channel,
    body,
    except,
    retention,
    now,
    volatile = false,
    facts,
    origin,
  }: RoomPublication): Promise<StreamPosition> {
    const { position, frame } = this.store.streams.append(room, body, retention, now);
    this.store.deliver(this.node(), {
      channels: [channel],
      frame,
      except,
      volatile,
      position: { room, offset: position.offset },
      facts: facts && { ...facts, room, offset: position.offset, epoch: position.epoch },
      origin,
    });
    return position;
  }

  async readRoom(
    room: string,
    since: StreamPosition | undefined,
    limit: number,
    now: number,
  ): Promise<RoomRead> {
    return this.store.streams.read(room, since, limit, now);
  }
}
