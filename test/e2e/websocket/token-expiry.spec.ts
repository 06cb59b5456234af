// Credentials that expire: a principal with an `exp` claim (a JWT's, in seconds) holds
// until then. The connection ends with 4401 (SSE: the stream ends; gRPC:
// UNAUTHENTICATED), and the library's client comes straight back with fresh ones,
// recovering its rooms on the way.
import type { IncomingMessage } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient, type StateChange } from '../../../lib/client/index.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { queryParam, until, withHarness } from '../../support/fixtures.js';
import { collect, grpc, startGrpcApp } from '../../support/grpc.js';
import { SseTestClient, httpBase } from '../../support/sse-client.js';
import { muteClient } from '../../support/ws-client.js';

/** `?user=` and `?exp=` (seconds) from the URL, or from gRPC metadata. */
function expiring(request: IncomingMessage) {
  const header = (name: string) => request.headers[name] as string | undefined;
  const exp = queryParam(request, 'exp') ?? header('exp');
  return { userId: queryParam(request, 'user') ?? header('user'), exp: Number(exp) };
}

// `exp` is in whole seconds: inSeconds(2) is 1 to 2 s away (inSeconds(1) could be 1 ms
// away, and a busy machine's handshake would then see it expired).
const inSeconds = (seconds: number) => Math.floor(Date.now() / 1_000) + seconds;

/** The grpc-js status code of a failed unary call, or 'OK'. */
function outcome(call: Promise<unknown>): Promise<number | 'OK'> {
  return call.then(
    () => 'OK' as const,
    (error: { code: number }) => error.code,
  );
}

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('credentials that expire', () => {
    const harness = withHarness();

    it('end a WebSocket with 4401, and the client comes back at once with fresh ones, missing nothing', async () => {
      const app = await harness.start({ authenticate: expiring, history: { maxCount: 1_000 } });
      const raw = await harness.connect(`${app.wsUrl}?user=rex&exp=${inSeconds(2)}`);
      expect(await raw.closed).toBe(4401);

      // Each token the client makes lasts two or three seconds (`exp` is in whole seconds):
      // it is renewed as the server ends it.
      let minted = 0;
      const client = new RealtimeClient(
        async () => {
          minted++;
          return `${app.wsUrl}?user=kim&exp=${inSeconds(3)}`;
        },
        { WebSocket },
      );
      harness.defer(() => client.close());
      const changes: StateChange[] = [];
      client.onState((state, change) => state === 'reconnecting' && changes.push(change));
      const room = await client.subscribe('ticks', { recover: true }).ready;
      const seen: number[] = [];
      room.on('tick', (n) => seen.push(n as number));
      let n = 0;
      const timer = setInterval(() => void app.hub.to('ticks').emit('tick', ++n), 20);
      await until(() => changes.length >= 2 && minted >= 3, 12_000);
      clearInterval(timer);
      await until(() => seen.at(-1) === n, 5_000);
      expect(seen).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(changes.slice(0, 2)).toMatchObject([
        { code: 4401, delay: 0 },
        { code: 4401, delay: 0 },
      ]);
      expect(minted).toBeGreaterThanOrEqual(3);
    }, 30_000);

    it('end an SSE stream, and a gRPC stream with UNAUTHENTICATED', async () => {
      const app = await startGrpcApp({ authenticate: expiring });
      harness.track(app);
      const stream = await SseTestClient.open(
        `${httpBase(app)}/realtime/events?room=r&user=sam&exp=${inSeconds(2)}`,
      );
      const client = app.realtime({ user: 'gus', exp: String(inSeconds(2)) });
      harness.defer(() => client.close());
      const call = collect(client.raw.Subscribe({ rooms: ['r'] }, client.metadata));
      await stream.until(() => stream.closed, 10_000);
      await until(() => call.ended.status !== undefined, 10_000);
      expect(call.ended.status!.code).toBe(grpc.status.UNAUTHENTICATED);
      await until(() => app.hub.connections.count() === 0);
    });

    it('leave a connection without `exp` alone', async () => {
      const app = await harness.start({
        authenticate: (request) => ({ userId: queryParam(request, 'user') ?? undefined }),
      });
      const client = await harness.connect(`${app.wsUrl}?user=eve`);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(client.closeCode).toBeUndefined();
    });
  });

  describe('regressions', () => {
    describe('credentials that expire', () => {
      const harness = withHarness();

      it('a client whose URL function keeps minting already-expired tokens does not reconnect at full speed', async () => {
        let handshakes = 0;
        const app = await harness.start({
          authenticate: (request) => {
            handshakes++;
            return expiring(request);
          },
        });
        // A token service whose clock is a minute behind (or a token cached past its life).
        const client = new RealtimeClient(
          async () => `${app.wsUrl}?user=kim&exp=${inSeconds(-60)}`,
          {
            WebSocket,
          },
        );
        harness.defer(() => client.close());
        await delay(1_000);
        // Found: ~500 handshakes a second, forever (4401 retries at once, never counted).
        expect(handshakes).toBeLessThanOrEqual(10);
      });

      it('a principal whose exp has already passed is refused at the handshake, not admitted', async () => {
        const app = await harness.start({ authenticate: expiring });
        const result = await harness.handshake(`${app.wsUrl}?user=kim&exp=${inSeconds(-60)}`);
        // Found: 101 and rt:connected (presence online, handleConnection), then 4401.
        expect(result.status).toBe(401);
      });

      it('a gRPC unary call with a principal whose exp has passed is refused', async () => {
        const app = await startGrpcApp({ authenticate: expiring });
        harness.track(app);
        const client = app.realtime({ user: 'gus', exp: String(inSeconds(-60)) });
        const published = outcome(
          client.unary('Publish', { room: 'lobby', event: 'chat', data: '{"text":"late"}' }),
        );
        // Found: OK, the message is published with credentials that expired a minute ago.
        expect(await published).toBe(grpc.status.UNAUTHENTICATED);
      });

      it('an expired connection whose client never answers the close leaves within closeTimeout', async () => {
        const app = await harness.start({
          authenticate: expiring,
          websocket: { closeTimeout: 200 },
        });
        const mute = await muteClient(app.port, `/ws?user=mallory&exp=${inSeconds(2)}`);
        harness.defer(() => mute.destroy());
        await until(() => app.hub.connections.count() === 1);
        // exp is at most 2 s away; the close is answered within closeTimeout or cut.
        // Found: the connection stays registered (online, in its rooms, counted against the
        // limits) for ws's own 30 s close timer after its credentials expired.
        await expect(
          until(() => app.hub.connections.count() === 0, 10_000),
        ).resolves.toBeUndefined();
      });
    });
  });
});
