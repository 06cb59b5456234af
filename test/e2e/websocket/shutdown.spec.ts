// Graceful shutdown: a node process gets SIGTERM while it serves a WebSocket client,
// a library client, an SSE stream and a gRPC stream, with a message waiting for
// acknowledgement. It stops accepting, tells WebSocket clients to reconnect elsewhere
// (1001, and the library's client goes to another node), ends the SSE and gRPC
// streams, takes its users offline at once (another node sees it, long before the
// presence timeout), reports the pending message, and exits within its deadline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../../lib/client/index.js';
import { PLATFORMS, startApp, usePlatform } from '../../support/app.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { collect, grpc, realtimeClient } from '../../support/grpc.js';
import { freePort, startServerProcess } from '../../support/processes.js';
import { redisAvailable, startRedis, type RedisServer } from '../../support/redis.js';
import { SseTestClient } from '../../support/sse-client.js';
import { TestClient, eventIs, muteClient } from '../../support/ws-client.js';

describe.runIf(redisAvailable()).each(PLATFORMS)(
  'graceful shutdown on SIGTERM, over %s',
  (platform) => {
    usePlatform(platform);
    let redis: RedisServer;
    const harness = withHarness();
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis.stop());

    it('ends every transport as documented, takes its users offline, reports what waits, and exits within closeTimeout', async () => {
      const [port, grpcPort] = [await freePort(), await freePort()];
      const node = await startServerProcess('shutdown-node', {
        PORT: String(port),
        GRPC_PORT: String(grpcPort),
        REDIS_URL: redis.url,
        PREFIX: 'shutdown:',
        PENDING_USER: 'pia',
        PLATFORM: platform,
      });
      harness.defer(() => node.kill());
      const other = harness.track(
        await startApp({
          authenticate: userFromQuery,
          engine: { type: 'redis', url: redis.url, prefix: 'shutdown:' },
          presence: { offlineDelay: 0, cleanupInterval: 200 }, // as on the node that stops
        }),
      );
      const wsUrl = `ws://127.0.0.1:${port}/ws`;

      const raw = await TestClient.connect(`${wsUrl}?user=ray`);
      // A client that stops reading: it never answers the close; it is cut at closeTimeout.
      const mute = await muteClient(port, '/ws?user=moe');
      harness.defer(() => mute.destroy());
      let target = wsUrl;
      const cleo = new RealtimeClient(() => `${target}?user=cleo`, {
        WebSocket,
        reconnect: { initialDelay: 20, maxDelay: 100 },
      });
      harness.defer(() => cleo.close());
      const first = (await cleo.ready).connectionId;
      const stream = await SseTestClient.open(
        `http://127.0.0.1:${port}/realtime/events?room=r&user=sia`,
      );
      const grpcClient = realtimeClient(`127.0.0.1:${grpcPort}`);
      harness.defer(() => grpcClient.close());
      const metadata = new grpc.Metadata();
      metadata.set('user', 'gus');
      const call = grpcClient.Subscribe({ rooms: ['r'] }, metadata);
      const grpcStream = collect(call);
      await until(() => grpcStream.messages.length > 0, 5_000); // rt:joined
      // Another node watches them all.
      const watcher = await harness.connect(`${other.wsUrl}?user=wade`);
      const watched = ['ray', 'cleo', 'sia', 'gus'];
      const { data } = await watcher.request('rt:watch', { users: watched });
      expect(data.statuses.map((state: { status: string }) => state.status)).toEqual(
        Array(4).fill('online'),
      );

      target = other.wsUrl; // where cleo's client goes next
      const stopping = Date.now();
      const exited = new Promise<number>((resolve) =>
        node.child.once('exit', () => resolve(Date.now() - stopping)),
      );
      node.child.kill('SIGTERM');
      // WebSocket: 1001, "go elsewhere"; the library's client does, at once.
      expect(await raw.closed).toBe(1001);
      // It takes no one new.
      const late = new WebSocket(`${wsUrl}?user=late`);
      const refused = await new Promise<boolean>((resolve) => {
        late.on('open', () => resolve(false));
        late.on('error', () => resolve(true));
        late.on('unexpected-response', () => resolve(true));
      });
      expect(refused).toBe(true);
      await until(
        () => cleo.state === 'connected' && cleo.connection?.connectionId !== first,
        5_000,
      );
      // SSE: the stream ends; gRPC: UNAVAILABLE (the client retries elsewhere).
      await stream.until(() => stream.closed, 5_000);
      await until(() => grpcStream.ended.status !== undefined, 5_000);
      expect(grpcStream.ended.status!.code).toBe(grpc.status.UNAVAILABLE);
      // Its users are offline everywhere at once (presence.timeout is 60 s on that node).
      const offline = new Set<string>();
      await until(async () => {
        for (const frame of await watcher.collect(eventIs('rt:presence'), 0)) {
          if (frame.data.status === 'offline') offline.add(frame.data.userId);
        }
        return ['ray', 'sia', 'gus'].every((user) => offline.has(user));
      }, 5_000);
      // It exits, having reported the message that waited for acknowledgement.
      const exitedAfter = await exited;
      const lines = node
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line));
      expect(lines.find((line) => line.undeliverable)).toMatchObject({
        undeliverable: { event: 'pending', userId: 'pia', reason: 'shutdown' },
      });
      console.log(`shutdown: the node exited ${exitedAfter} ms after SIGTERM`);
      // websocket.closeTimeout is 500 ms there: the mute client held it about that long.
      expect(exitedAfter).toBeGreaterThanOrEqual(400);
      expect(exitedAfter).toBeLessThan(3_000);
    }, 30_000);
  },
);
