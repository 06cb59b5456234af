/** A socket whose writes can be held back and let go together. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * One write per socket per tick: the first frame sent to a socket in a tick corks
 * it, and all corked sockets are uncorked together once the tick's work is done,
 * so a burst of N messages costs each socket one `writev`, not N writes.
 */
export class WriteCoalescer {
  private corked: Corkable[] = [];
  private scheduled = false;

  /** Corks `socket` until the end of this tick; call once per socket per tick. */
  hold(socket: Corkable): void {
    socket.cork();
    this.corked.push(socket);
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(this.release);
  }

  private readonly release = (): void => {
    this.scheduled = false;
    const corked = this.corked;
    this.corked = [];
    for (const socket of corked) socket.uncork();
  };
}
