import type { RoomRead } from '../../engines/broker.interface.js';
import type { StreamPosition } from '../../engines/realtime-engine.interface.js';

/**
 * A room's kept messages, as server code reads them.
 *
 * @example
 * ```ts
 * const { messages } = await hub.roomHistory('lobby');
 * for (const { offset, event, data } of messages) console.log(offset, event, data);
 * ```
 */
export interface RoomHistory extends StreamPosition {
  readonly recovered: boolean;
  readonly messages: readonly {
    readonly offset: number;
    readonly event: string;
    readonly data?: unknown;
  }[];
}

/**
 * A read of a room's stream with its frames decoded.
 *
 * @example
 * ```ts
 * const history = historyOf(await engine.broker.readRoom('lobby', undefined, 50, Date.now()));
 * ```
 */
export function historyOf(read: RoomRead): RoomHistory {
  const messages = read.messages.map(({ offset, frame }) => {
    const { event, data } = JSON.parse(frame.toString()) as { event: string; data?: unknown };
    return { offset, event, data };
  });
  return { epoch: read.epoch, offset: read.offset, recovered: read.recovered, messages };
}
