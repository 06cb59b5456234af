import type { StreamPosition } from '../../engines/realtime-engine.interface.js';

/** The longest event id read back: a client sends what it was given, no more. */
const MAX_ID_LENGTH = 16_384;
const EPOCH = /^[\w-]{1,64}$/;

/**
 * A stream's place in each of its rooms, as an SSE event id (docs/protocol.md,
 * Server-Sent Events): `room=epoch:offset` pairs joined by commas, each room name
 * URI-encoded. A client that comes back with it resumes every room where it was.
 *
 * @example
 * ```ts
 * formatEventId(new Map([['chat:1', { epoch: 'Zk3x9aQe', offset: 42 }]])); // 'chat%3A1=Zk3x9aQe:42'
 * ```
 */
export function formatEventId(positions: ReadonlyMap<string, StreamPosition>): string {
  let id = '';
  for (const [room, { epoch, offset }] of positions) {
    id += `${id ? ',' : ''}${encodeURIComponent(room)}=${epoch}:${offset}`;
  }
  return id;
}

/**
 * Reads an event id back. `undefined` when it is not one this server wrote (any
 * other text, too many rooms, a wrong epoch or offset): the stream cannot resume.
 *
 * @example
 * ```ts
 * parseEventId('chat%3A1=Zk3x9aQe:42', 10); // Map { 'chat:1' => { epoch: 'Zk3x9aQe', offset: 42 } }
 * ```
 */
export function parseEventId(
  text: string,
  maxRooms: number,
): Map<string, StreamPosition> | undefined {
  if (text.length > MAX_ID_LENGTH) return undefined;
  const positions = new Map<string, StreamPosition>();
  if (text === '') return positions;
  const pairs = text.split(',');
  if (pairs.length > maxRooms) return undefined;
  for (const pair of pairs) {
    const match = /^([^=]+)=([^:]+):(\d{1,16})$/.exec(pair);
    if (!match) return undefined;
    const [, encoded, epoch, digits] = match;
    const offset = Number(digits);
    if (!EPOCH.test(epoch!) || !Number.isSafeInteger(offset)) return undefined;
    let room: string;
    try {
      room = decodeURIComponent(encoded!);
    } catch {
      return undefined;
    }
    positions.set(room, { epoch: epoch!, offset });
  }
  return positions;
}
