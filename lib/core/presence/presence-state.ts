import type {
  ChosenStatus,
  PresenceMeta,
  PresenceRecord,
} from '../../engines/presence-store.interface.js';
import { ErrorCode, RealtimeError } from '../../protocol/index.js';

/**
 * A user's status as others see it: a chosen one, or `offline`.
 *
 * @example
 * ```ts
 * const shown: PresenceStatus = state.status; // 'online', 'away', 'busy' or 'offline'
 * ```
 */
export type PresenceStatus = ChosenStatus | 'offline';

/**
 * A user's presence as one viewer sees it. An invisible user sees themself as
 * `invisible`; everyone else sees them exactly as an offline user: status
 * `offline`, no meta, no `since`.
 *
 * @example
 * ```ts
 * const state: PresenceState = await presence.getStatus('u1');
 * if (state.status === 'busy') console.log(state.meta?.activity);
 * ```
 */
export interface PresenceState {
  readonly userId: string;
  readonly status: PresenceStatus;
  readonly meta: PresenceMeta | null;
  /** When the status began, in ms since the epoch; null when offline. */
  readonly since: number | null;
}

const CHOSEN_STATUSES: readonly string[] = ['online', 'away', 'busy', 'invisible'];

/** The state `viewer` sees of a user whose record is `record` (undefined: offline). */
export function viewOf(
  userId: string,
  record: PresenceRecord | undefined,
  viewer?: string,
): PresenceState {
  if (!record || (record.status === 'invisible' && viewer !== userId)) {
    return { userId, status: 'offline', meta: null, since: null };
  }
  return { userId, status: record.status, meta: record.meta, since: record.since };
}

/** Whether a state shows the user in rooms and lists (not offline, not hidden). */
export function isVisible(state: PresenceState): boolean {
  return state.status !== 'offline';
}

export function sameState(a: PresenceState, b: PresenceState): boolean {
  return (
    a.status === b.status &&
    a.since === b.since &&
    JSON.stringify(a.meta) === JSON.stringify(b.meta)
  );
}

/** @throws RealtimeError INVALID_DATA unless `status` is one a user can choose. */
export function assertChosenStatus(status: unknown): asserts status is ChosenStatus {
  if (typeof status !== 'string' || !CHOSEN_STATUSES.includes(status)) {
    throw new RealtimeError(
      ErrorCode.InvalidData,
      `status must be one of ${CHOSEN_STATUSES.join(', ')}`,
    );
  }
}

/** @throws RealtimeError INVALID_DATA unless `meta` is a JSON object (or null) of at most `maxBytes`. */
export function assertMeta(meta: unknown, maxBytes: number): asserts meta is PresenceMeta | null {
  if (meta === null) return;
  if (typeof meta !== 'object' || Array.isArray(meta)) {
    throw new RealtimeError(ErrorCode.InvalidData, 'meta must be an object or null');
  }
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(meta));
  } catch {
    throw new RealtimeError(ErrorCode.InvalidData, 'meta must be serialisable as JSON');
  }
  if (size > maxBytes) {
    throw new RealtimeError(
      ErrorCode.InvalidData,
      `meta is ${size} bytes of JSON; the limit is ${maxBytes}`,
    );
  }
}

/** Longest user id accepted in a presence request. */
export const MAX_USER_ID_LENGTH = 200;
/** Most user ids in one presence request. */
export const MAX_USERS_PER_REQUEST = 1_000;

/** @throws RealtimeError INVALID_DATA unless `users` is a short list of user ids. */
export function assertUserIds(users: unknown): asserts users is string[] {
  if (!Array.isArray(users) || users.length > MAX_USERS_PER_REQUEST) {
    throw new RealtimeError(
      ErrorCode.InvalidData,
      `users must be an array of at most ${MAX_USERS_PER_REQUEST} user ids`,
    );
  }
  for (const user of users) {
    if (typeof user !== 'string' || user.length === 0 || user.length > MAX_USER_ID_LENGTH) {
      throw new RealtimeError(
        ErrorCode.InvalidData,
        `user ids must be non-empty strings of at most ${MAX_USER_ID_LENGTH} characters`,
      );
    }
  }
}
