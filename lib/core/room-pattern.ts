/**
 * A room-name pattern as the options take them: `*` matches any run of characters,
 * the rest is literal (`chat:*` matches `chat:lobby`).
 *
 * @example
 * ```ts
 * roomPattern('chat:*').test('chat:lobby'); // true
 * ```
 */
export function roomPattern(pattern: string): RegExp {
  const literal = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${literal.join('.*')}$`);
}
