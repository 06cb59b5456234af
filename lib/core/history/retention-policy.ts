import type { HistoryRetention } from '../../engines/broker.interface.js';
import type { HistoryOptions } from './history.options.js';
import { roomPattern } from '../room-pattern.js';

/**
 * How much history each room keeps: the first pattern of `history.rooms` that
 * matches the room's name, else the defaults.
 *
 * @example
 * ```ts
 * const policy = new RetentionPolicy({ maxCount: 0, maxAge: 60_000, recoveryLimit: 100, rooms: { 'chat:*': { maxCount: 50 } } });
 * policy.for('chat:1'); // { maxCount: 50, maxAge: 60000 }
 * ```
 */
export class RetentionPolicy {
  private readonly fallback: HistoryRetention;
  private readonly patterns: { readonly test: RegExp; readonly retention: HistoryRetention }[];

  constructor(options: Readonly<Required<HistoryOptions>>) {
    this.fallback = { maxCount: options.maxCount, maxAge: options.maxAge };
    this.patterns = Object.entries(options.rooms).map(([pattern, given]) => ({
      test: roomPattern(pattern),
      retention: {
        maxCount: given.maxCount ?? this.fallback.maxCount,
        maxAge: given.maxAge ?? this.fallback.maxAge,
      },
    }));
  }

  for(room: string): HistoryRetention {
    for (const { test, retention } of this.patterns) if (test.test(room)) return retention;
    return this.fallback;
  }
}
