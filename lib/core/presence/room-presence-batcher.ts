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
 * interval is not mentioned at all. A batch is handed over only once the one before
 * it is out (`flush` settled), and `interval` after the first change it holds: slow
 * work (an engine under load) makes batches bigger, never more frequent or out of order.
 *
 * @example
 * ```ts
 * const batcher = new RoomPresenceBatcher(100, (changes) => publish(changes));
 * batcher.record('lobby', 'u1', 'joined'); // { lobby: { u1: 'joined' } } in 100 ms
 * ```
 */
export class RoomPresenceBatcher {
  private pending = new Map<string, Map<string, MemberChange>>();
  private timer: NodeJS.Timeout | undefined;
  /** The batch going out now. */
  private sending: Map<string, Map<string, MemberChange>> | undefined;
  /** Batches handed over and settled, and who waits for which of them. */
  private sent = 0;
  private waiters: { batch: number; resolve: () => void }[] = [];
  private stopped = false;

  constructor(
    private readonly interval: number,
    /** Sends a batch; it reports its own failures, and never rejects. */
    private readonly flush: (changes: Map<string, Map<string, MemberChange>>) => Promise<void>,
  ) {}

  record(room: string, userId: string, change: MemberChange): void {
    if (this.stopped) return; // late news from work still running at shutdown: no new timer
    let users = this.pending.get(room);
    if (!users) this.pending.set(room, (users = new Map()));
    const combined = combine(users.get(userId), change);
    if (combined === undefined) users.delete(userId);
    else users.set(userId, combined);
    this.schedule();
  }

  /** The users of `room` with a change not yet out: held, or in the batch going out. */
  unsent(room: string): Set<string> {
    return new Set([
      ...(this.sending?.get(room)?.keys() ?? []),
      ...(this.pending.get(room)?.keys() ?? []),
    ]);
  }

  /** Settles once the changes of `room` recorded so far are out (at once if none is held). */
  out(room: string): Promise<void> {
    const held = (this.pending.get(room)?.size ?? 0) > 0;
    if (!held && !this.sending?.has(room)) return Promise.resolve();
    const batch = this.sent + (this.sending ? 1 : 0) + (held ? 1 : 0);
    return new Promise((resolve) => this.waiters.push({ batch, resolve }));
  }

  stop(): void {
    for (const { resolve } of this.waiters.splice(0)) resolve();
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private schedule(): void {
    if (this.timer || this.sending || this.stopped) return;
    this.timer = setTimeout(() => void this.drain(), this.interval).unref();
  }

  private async drain(): Promise<void> {
    this.timer = undefined;
    const changes = this.pending;
    this.pending = new Map();
    for (const [room, users] of changes) if (users.size === 0) changes.delete(room);
    if (changes.size === 0) return;
    this.sending = changes;
    await this.flush(changes);
    this.sending = undefined;
    this.sent++;
    this.waiters = this.waiters.filter(({ batch, resolve }) => batch > this.sent || void resolve());
    if (this.pending.size > 0) this.schedule();
  }
}
