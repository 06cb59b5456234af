import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, withPeer, type Figures } from './measure.js';
import type { Child } from './processes.js';

/** `presence.batchInterval` as the bench's server runs it: the default. */
const BATCH_INTERVAL = 100;

interface PresenceStatus {
  frames: number;
  bytes: number;
  maxFramesPerSocket: number;
  handshakeBytes: number;
  lastAt: number;
}

/**
 * The heavy room: N users connecting at once, each joining one room and following
 * its members (`rt:join { presence: true }`). Counts, per observer, the
 * `rt:room-presence` frames and bytes until the room is quiet, against the bound
 * the protocol promises: at most one diff per room per `batchInterval`, so
 * (storm's length / batchInterval) + 1 frames per observer. The join reply (its
 * members snapshot) is counted apart.
 */
export function presence(peer: string, { points }: { points: number[] }): Promise<Figures> {
  const figures: Figures = {};
  return points
    .reduce(
      (previous, users) =>
        previous.then(() =>
          withPeer(peer, 1, async (_server, port, clients) => {
            const started = performance.timeOrigin + performance.now();
            const [joined] = await connect(clients, `${peer}-presence`, port, users, {
              concurrency: users,
            });
            const status = await untilQuiet(clients[0]!);
            const storm = Math.max(status.lastAt, started + joined!.ms) - started;
            Object.assign(figures, {
              [`msUntilAllJoinedAt${users}`]: joined!.ms,
              [`msUntilQuietAt${users}`]: storm,
              [`framesPerObserverAt${users}`]: status.frames / users,
              [`maxFramesPerObserverAt${users}`]: status.maxFramesPerSocket,
              [`boundFramesPerObserverAt${users}`]: Math.ceil(storm / BATCH_INTERVAL) + 1,
              [`presenceBytesPerObserverAt${users}`]: status.bytes / users,
              [`joinReplyBytesPerObserverAt${users}`]: status.handshakeBytes / users,
            });
          }),
        ),
      Promise.resolve(),
    )
    .then(() => figures);
}

/** Polls until no presence frame has come for a second. */
async function untilQuiet(clients: Child): Promise<PresenceStatus> {
  let last = await clients.ask<PresenceStatus>('status');
  for (;;) {
    await sleep(1_000);
    const now = await clients.ask<PresenceStatus>('status');
    if (now.frames === last.frames) return now;
    last = now;
  }
}
