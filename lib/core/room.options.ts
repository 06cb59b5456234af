import { positiveInteger, resolveGroup, type Rule } from '../options-check.js';

/**
 * Rules for rooms, whatever the transport.
 *
 * @example
 * ```ts
 * rooms: { maxPerConnection: 50, maxNameLength: 100 }
 * ```
 */
export interface RoomOptions {
  /** Rooms one connection may be in at once. Default 100. */
  maxPerConnection?: number;
  /** Longest room name, in characters. Default 200. */
  maxNameLength?: number;
}

/**
 * The room options after defaults and checks.
 *
 * @example
 * ```ts
 * const { maxNameLength }: ResolvedRoomOptions = resolveRoomOptions({});
 * ```
 */
export type ResolvedRoomOptions = Readonly<Required<RoomOptions>>;

/**
 * The bounds on rooms unless told otherwise.
 *
 * @example
 * ```ts
 * ROOM_DEFAULTS.maxPerConnection; // 100
 * ```
 */
export const ROOM_DEFAULTS: ResolvedRoomOptions = { maxPerConnection: 100, maxNameLength: 200 };

const RULES: Record<keyof RoomOptions, Rule> = {
  maxPerConnection: positiveInteger,
  maxNameLength: positiveInteger,
};

/**
 * The `rooms` options with defaults, checked.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolveRoomOptions({ maxPerConnection: 20 }).maxNameLength; // 200
 * ```
 */
export function resolveRoomOptions(given: RoomOptions | undefined): ResolvedRoomOptions {
  return resolveGroup('rooms', given, RULES, ROOM_DEFAULTS);
}
