/**
 * A place in a room's stream: the epoch, and the offset of the last message.
 *
 * @example
 * ```ts
 * const since: StreamPosition = { epoch: 'k3Jx', offset: 41 }; // the last message seen
 * ```
 */
export interface StreamPosition {
  readonly epoch: string;
  readonly offset: number;
}
