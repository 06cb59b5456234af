import type { StreamPosition } from './stream-position.js';

/** The longest event id read back: a client sends what it was given, no more. */
const MAX_ID_LENGTH = 16_384;
const POSITION = /^([\w-]{1,64}):(\d{1,16})$/;

/**
 * A short digest of a stream's rooms, in order (FNV-1a, 32 bits, base 36): an id
 * is read back only by a stream of the same rooms.
 */
function digest(rooms: readonly string[]): string {
  let hash = 0x811c9dc5;
  const text = rooms.join('\n'); // room names hold no control characters
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

/**
 * A stream's place in each of its rooms, as an SSE event id (docs/protocol.md,
 * Server-Sent Events): a digest of the stream's rooms, a dot, then for each room in
 * the stream's order `epoch:offset`, or `-` while it is not known, joined by commas.
 * The room names are in the stream's URL already, which a client sends back with
 * the id; the id stays short however long they are.
 *
 * @example
 * ```ts
 * formatEventId(['lobby', 'chat:1'], new Map([['lobby', { epoch: 'Zk3x9aQe', offset: 42 }]]));
 * // '1x2b3c4.Zk3x9aQe:42,-'
 * ```
 */
export function formatEventId(
  rooms: readonly string[],
  positions: ReadonlyMap<string, StreamPosition>,
): string {
  return eventIdFormat(rooms)(positions);
}

/**
 * {@link formatEventId} for one stream's rooms, their digest made once: what a stream
 * that writes many ids keeps.
 *
 * @example
 * ```ts
 * const idOf = eventIdFormat(['lobby']);
 * idOf(new Map([['lobby', { epoch: 'Zk3x9aQe', offset: 42 }]])); // '<digest>.Zk3x9aQe:42'
 * ```
 */
export function eventIdFormat(
  rooms: readonly string[],
): (positions: ReadonlyMap<string, StreamPosition>) => string {
  const head = `${digest(rooms)}.`;
  return (positions) => {
    const places = rooms.map((room) => {
      const position = positions.get(room);
      return position ? `${position.epoch}:${position.offset}` : '-';
    });
    return head + places.join(',');
  };
}

/**
 * Reads an event id back for a stream of these rooms. `undefined` when it is not
 * one this server wrote for such a stream (other rooms, other text, a wrong epoch or
 * offset): the stream cannot resume.
 *
 * @example
 * ```ts
 * parseEventId('1x2b3c4.Zk3x9aQe:42,-', ['lobby', 'chat:1']);
 * // Map { 'lobby' => { epoch: 'Zk3x9aQe', offset: 42 } }
 * ```
 */
export function parseEventId(
  text: string,
  rooms: readonly string[],
): Map<string, StreamPosition> | undefined {
  if (text.length > MAX_ID_LENGTH) return undefined;
  const dot = text.indexOf('.');
  if (dot === -1 || text.slice(0, dot) !== digest(rooms)) return undefined;
  const places = text.slice(dot + 1).split(',');
  if (places.length !== rooms.length) return undefined;
  const positions = new Map<string, StreamPosition>();
  for (const [i, place] of places.entries()) {
    if (place === '-') continue;
    const match = POSITION.exec(place);
    const offset = Number(match?.[2]);
    if (!match || !Number.isSafeInteger(offset)) return undefined;
    positions.set(rooms[i]!, { epoch: match[1]!, offset });
  }
  return positions;
}
