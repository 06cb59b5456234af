/** What happened to one user in one room since the last diff. */
export type MemberChange = 'joined' | 'left' | 'changed';

/** Combines an earlier change with a later one; undefined means "nothing to say". */
function combine(earlier: MemberChange | undefined, later: MemberChange): MemberChange | undefined {
  if (earlier === undefined) return later;
  if (earlier === 'joined') return later === 'left' ? undefined : 'joined';
  if (earlier === 'left') return later === 'joined' ? 'changed' : 'left';
  return later === 'left' ? 'left' : 'changed';
}

/**
 * Gathers member changes per room and hands them over once per `interval`, so a
 * room where 1,000 users join within a second costs each member about
 * 1000 / interval diffs, not 1,000 frames. A user who joins and leaves within one
 * interval is not mentioned at all.
 */
export class RoomPresenceBatcher {
  private pending = new Map<string, Map<string, MemberChange>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly interval: number,
    private readonly flush: (changes: Map<string, Map<string, MemberChange>>) => void,
  ) {}

  record(room: string, userId: string, change: MemberChange): void {
    if (this.stopped) return; // late news from work still running at shutdown: no new timer
    let users = this.pending.get(room);
    if (!users) this.pending.set(room, (users = new Map()));
    const combined = combine(users.get(userId), change);
    if (combined === undefined) users.delete(userId);
    else users.set(userId, combined);
    this.timer ??= setTimeout(() => this.drain(), this.interval).unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private drain(): void {
    this.timer = undefined;
    const changes = this.pending;
    this.pending = new Map();
    for (const [room, users] of changes) if (users.size === 0) changes.delete(room);
    if (changes.size > 0) this.flush(changes);
  }
}
