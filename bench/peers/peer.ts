/**
 * A server under test, as the bench drives it: one per process. Every peer is a
 * minimal idiomatic server of its kind; clients join one room and receive what the
 * server broadcasts to it.
 */
export interface PeerServer {
  readonly port: number;
  /** Sends `count` messages to everyone in `room`, back to back in one tick. */
  broadcast(room: string, count: number, payload: () => object): void;
  /** Connections the server holds now. */
  connections(): number;
  close(): Promise<void>;
}

/** The heartbeat every peer runs: the same interval and timeout for all. */
export const PING_INTERVAL = 25_000;
export const PONG_TIMEOUT = 10_000;

/** The room every scenario's clients join. */
export const BENCH_ROOM = 'bench';
