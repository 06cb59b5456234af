// Credentials that expire: a principal with an `exp` claim (a JWT's, in seconds) holds
// until then. The connection ends with 4401 (SSE: the stream ends; gRPC:
// UNAUTHENTICATED), and the library's client comes straight back with fresh ones,
// recovering its rooms on the way.
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient, type StateChange } from '../../../lib/client/index.js';
import { queryParam, until, withHarness } from '../../support/fixtures.js';
import { collect, grpc, startGrpcApp } from '../../support/grpc.js';
import { SseTestClient, httpBase } from '../../support/sse-client.js';

/** `?user=` and `?exp=` (seconds) from the URL, or from gRPC metadata. */
function expiring(request: IncomingMessage) {
  const header = (name: string) => request.headers[name] as string | undefined;
  const exp = queryParam(request, 'exp') ?? header('exp');
  return { userId: queryParam(request, 'user') ?? header('user'), exp: Number(exp) };
}

const inSeconds = (seconds: number) => Math.floor(Date.now() / 1_000) + seconds;

describe('credentials that expire', () => {
  const harness = withHarness();

  it('end a WebSocket with 4401, and the client comes back at once with fresh ones, missing nothing', async () => {
    const app = await harness.start({ authenticate: expiring, history: { maxCount: 1_000 } });
    const raw = await harness.connect(`${app.wsUrl}?user=rex&exp=${inSeconds(1)}`);
    const started = Date.now();
    expect(await raw.closed).toBe(4401);
    expect(Date.now() - started).toBeLessThan(2_500);

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
      `${httpBase(app)}/realtime/events?room=r&user=sam&exp=${inSeconds(1)}`,
    );
    const client = app.realtime({ user: 'gus', exp: String(inSeconds(1)) });
    harness.defer(() => client.close());
    const call = collect(client.raw.Subscribe({ rooms: ['r'] }, client.metadata));
    await stream.until(() => stream.closed, 3_000);
    await until(() => call.ended.status !== undefined, 3_000);
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
