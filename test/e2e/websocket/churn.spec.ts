// Churn: 50,000 connect / join / disconnect cycles (10,000 over Fastify) against one
// live server. Nothing is left behind: the registry, the rooms and presence are empty
// at the end, and the heap and the process's handles come back to where they were.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { PresenceService } from '../../../lib/index.js';
import { PLATFORMS, usePlatform, type Platform } from '../../support/app.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Cycles per platform. The upgrade is the only part the HTTP platform plays (ws takes the
 * socket from there), so Fastify gets a fifth of Express's run: enough to show a leak
 * of its own, without doubling the longest suite.
 */
const CYCLES: Record<Platform, number> = { express: 50_000, fastify: 10_000 };
const AT_ONCE = 64;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** One cycle: connect as `user`, join a room, leave by closing the socket. */
function cycle(url: string, user: string, room: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url}?user=${user}`);
    socket.on('error', reject);
    socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { event: string; id?: number };
      if (frame.event === 'rt:connected') {
        socket.send(JSON.stringify({ event: 'rt:join', data: { room }, id: 1 }));
      } else if (frame.event === 'rt:reply' && frame.id === 1) {
        socket.close();
      }
    });
    socket.on('close', () => resolve());
  });
}

describe.each(PLATFORMS)('churn over %s', (platform) => {
  usePlatform(platform);
  const harness = withHarness();
  const cycles = CYCLES[platform];

  it(`leaves nothing behind after ${cycles.toLocaleString('en-US')} connect/join/disconnect cycles`, async () => {
    const app = await harness.start({
      authenticate: userFromQuery,
      rateLimit: false,
      presence: { offlineDelay: 100, cleanupInterval: 100 },
      history: { maxCount: 5 },
    });
    const presence = app.app.get(PresenceService);
    // Warm up, then take the baseline.
    await Promise.all(Array.from({ length: AT_ONCE }, (_, i) => cycle(app.wsUrl, `w${i}`, 'warm')));
    await until(async () => (await presence.getStatuses(['w0']))[0]!.status === 'offline', 5_000);
    const heapBefore = await settledHeap();
    const handlesBefore = process.getActiveResourcesInfo().length;

    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: AT_ONCE }, async () => {
        while (next < cycles) {
          const n = next++;
          // 1,000 users over 100 rooms: the same users and rooms come and go again.
          await cycle(app.wsUrl, `u${n % 1_000}`, `room-${n % 100}`);
        }
      }),
    );
    const seconds = (Date.now() - started) / 1_000;

    await until(() => app.hub.connections.count() === 0, 10_000);
    // Rooms made by a join go with their last member; presence forgets offline users.
    await until(async () => (await app.hub.roomInfo('room-0')) === undefined, 10_000);
    const users = Array.from({ length: 1_000 }, (_, i) => `u${i}`);
    await until(
      async () => (await presence.getStatuses(users)).every((state) => state.status === 'offline'),
      10_000,
    );
    for (let i = 0; i < 100; i++) expect(await app.hub.roomInfo(`room-${i}`)).toBeUndefined();
    const heapAfter = await settledHeap();
    const handlesAfter = process.getActiveResourcesInfo().length;
    console.log(
      `churn over ${platform}: ${cycles} cycles in ${seconds.toFixed(1)} s (${Math.round(cycles / seconds)}/s); ` +
        `heap ${heapBefore.toFixed(1)} -> ${heapAfter.toFixed(1)} MiB; ` +
        `handles ${handlesBefore} -> ${handlesAfter}`,
    );
    expect(heapAfter - heapBefore).toBeLessThan(16);
    expect(handlesAfter - handlesBefore).toBeLessThanOrEqual(2);
  }, 300_000);
});
