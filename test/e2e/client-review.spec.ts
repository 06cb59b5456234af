// Regression tests from the review of the library client (lib/client): each pins a bug
// against a real app and real sockets, and is named after it.
import {
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
} from '@nestjs/websockets';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  RealtimeClient,
  RealtimeClientError,
  type RealtimeClientOptions,
  type WebSocketConstructor,
} from '../../lib/client/index.js';
import type { RealtimeModuleOptions } from '../../lib/index.js';
import type { WsConnection } from '../../lib/transports/websocket/ws-connection.js';
import { reconnected } from '../support/client.js';
import type { TestApp } from '../support/app.js';
import { until, userFromQuery, withHarness } from '../support/fixtures.js';

/** Retries fast, so that tests do not wait on backoff. */
const FAST: RealtimeClientOptions = {
  WebSocket,
  reconnect: { initialDelay: 20, maxDelay: 50 },
};

// Apps, clients and timers of a test, closed after it (clients and timers first).
const harness = withHarness();

function client(
  url: string | (() => string | Promise<string>),
  options: RealtimeClientOptions = {},
): RealtimeClient {
  const created = new RealtimeClient(url, { ...FAST, ...options });
  harness.defer(() => created.close());
  return created;
}

const started = (options: RealtimeModuleOptions, providers: any[] = []): Promise<TestApp> =>
  harness.start(options, { providers });

/** Closes every connection of the app with 1012 (restart): the client reconnects. */
function restartConnections(app: TestApp): void {
  for (const connection of app.hub.connections.list()) connection.close(1012, 'restart');
}

/** A WebSocket constructor that records what every socket it makes sends. */
function recordingWebSocket(): { WebSocket: WebSocketConstructor; sent: string[] } {
  const sent: string[] = [];
  class Recording extends WebSocket {
    override send(data: any, ...rest: any[]): void {
      sent.push(String(data));
      (super.send as (...args: any[]) => void)(data, ...rest);
    }
  }
  return { WebSocket: Recording, sent };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

@WebSocketGateway()
class NotesGateway {
  readonly notes: unknown[] = [];

  @SubscribeMessage('note')
  note(@MessageBody() data: unknown) {
    this.notes.push(data);
    return { noted: data };
  }
}

/** A node whose engine is down: it says rt:connected, then closes with 1011 (realtime-ws.server.ts). */
@WebSocketGateway()
class BrokenEngineGateway implements OnGatewayConnection {
  handleConnection(connection: WsConnection): void {
    connection.close(1011, 'engine unavailable');
  }
}

const options: RealtimeModuleOptions = { authenticate: userFromQuery };

describe('closing the client', () => {
  it('close() with a reason longer than a close frame holds neither throws nor leaves the socket open', async () => {
    const app = await started(options);
    // Not the helper's client: its cleanup would wait on `closed`, which the bug holds up.
    const c = new RealtimeClient(`${app.wsUrl}?user=u1`, FAST);
    await c.ready;
    // An app passing an error message as the reason: more than 123 bytes.
    let thrown: unknown;
    try {
      void c.close(1000, 'x'.repeat(200));
    } catch (error) {
      thrown = error;
    }
    expect.soft(thrown).toBeUndefined();
    expect(c.state).toBe('disconnected');
    // The server still holds the connection, which the client no longer reads.
    await until(() => app.hub.connections.count() === 0, 2_000);
  });

  it('close() called from an onState listener while reconnecting leaves no retry behind', async () => {
    const app = await started(options);
    let urls = 0;
    const c = client(() => {
      urls++;
      return `${app.wsUrl}?user=u1`;
    });
    await c.ready;
    c.onState((state) => {
      if (state === 'reconnecting') void c.close();
    });
    restartConnections(app);
    expect(await c.closed).toBe(1000);
    await sleep(200); // past reconnect.maxDelay: a retry left behind has run by now
    expect(urls).toBe(1);
    expect(c.state).toBe('disconnected');
  });
});

describe('backoff', () => {
  it('backs off against a node that closes every connection right after rt:connected', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    harness.defer(() => vi.restoreAllMocks());
    const app = await started(options, [BrokenEngineGateway]);
    let sockets = 0;
    const c = client(
      () => {
        sockets++;
        return app.wsUrl;
      },
      {
        reconnect: { initialDelay: 100, maxDelay: 2_000 },
      },
    );
    await sleep(2_000);
    // Waits of 50, 100, 200, 400, 800 ms: about 6 attempts in 2 s, not one every 50 ms.
    expect(c.state).not.toBe('disconnected');
    expect(sockets).toBeLessThanOrEqual(8);
  });
});

describe('rooms that survive', () => {
  it('a re-join the client itself refuses (TOO_MANY_REQUESTS) does not end the subscription', async () => {
    const app = await started(options);
    const c = client(`${app.wsUrl}?user=u1`, { maxPendingRequests: 2 });
    const rooms = [await c.join('a'), await c.join('b'), await c.join('c')];
    const ends: unknown[] = [];
    for (const room of rooms) room.onEnd((error) => ends.push([room.name, error?.code]));
    const back = reconnected(c);
    restartConnections(app);
    await back;
    // The server refused nothing: every room is kept, and joined on the new connection.
    expect(ends).toEqual([]);
    expect(rooms.map((room) => room.joined)).toEqual([true, true, true]);
    await until(() => {
      const [connection] = app.hub.connections.list();
      return connection !== undefined && app.hub.connectionRooms(connection).length === 3;
    });
  });

  it('a re-join that times out does not end the subscription: the client starts the connection again', async () => {
    // One frame per second: the second re-join of a reconnect is dropped (RATE_LIMITED).
    const app = await started({
      ...options,
      rateLimit: { messagesPerSecond: 1, messageBurst: 1, maxRefused: 100 },
    });
    const c = client(`${app.wsUrl}?user=u1`, { requestTimeout: 300 });
    const a = await c.join('a');
    await sleep(1_100);
    const b = await c.join('b');
    const ends: unknown[] = [];
    for (const room of [a, b]) room.onEnd((error) => ends.push([room.name, error?.code]));
    const reasons: (string | undefined)[] = [];
    c.onState((state, change) => state === 'reconnecting' && reasons.push(change.reason));
    restartConnections(app);
    // No reply is not a refusal: the rooms are kept, and the unknown connection dropped.
    await until(() => reasons.some((reason) => reason?.startsWith('no answer while resuming')));
    expect(ends).toEqual([]);
    expect(b.joined).toBe(true);
    expect(c.room('b')).toBe(b);
    expect(c.state).not.toBe('disconnected');
  });
});

describe('recovery', () => {
  it('does not hand the sender its own unechoed message after a reconnect', async () => {
    const app = await started({ ...options, history: { maxCount: 100 } });
    const c = client(`${app.wsUrl}?user=alice`);
    const chat = await c.join('chat', { recover: true });
    const seen: unknown[] = [];
    chat.on('chat', (data) => seen.push(data));
    await c.publish('chat', 'chat', 'mine'); // echo false: alice does not get it
    const back = reconnected(c);
    restartConnections(app);
    await back;
    await c.publish('chat', 'chat', 'probe', { echo: true }); // a round trip after the re-join
    await until(() => seen.includes('probe'));
    expect(seen).toEqual(['probe']);
  });
});

describe('the offline queue', () => {
  it("frames sent from a 'connected' listener go after the ones queued before", async () => {
    const app = await started(options, [NotesGateway]);
    const c = client(`${app.wsUrl}?user=u1`, { reconnect: { initialDelay: 100, maxDelay: 100 } });
    await c.ready;
    let queued = false;
    c.onState((state) => {
      if (state === 'reconnecting' && !queued) {
        queued = true;
        c.emit('note', 'queued while offline');
      } else if (state === 'connected' && queued) {
        c.emit('note', 'sent once connected');
      }
    });
    restartConnections(app);
    const gateway = app.app.get(NotesGateway);
    await until(() => gateway.notes.length === 2);
    expect(gateway.notes).toEqual(['queued while offline', 'sent once connected']);
  });

  it('a watch or status refused with OFFLINE_QUEUE_FULL is not applied at the next reconnect', async () => {
    const app = await started(options);
    const recording = recordingWebSocket();
    const c = client(`${app.wsUrl}?user=u1`, {
      WebSocket: recording.WebSocket,
      offlineQueue: 0,
      reconnect: { initialDelay: 100, maxDelay: 100 },
    });
    await c.ready;
    const refusals: Promise<unknown>[] = [];
    c.onState((state) => {
      if (state !== 'reconnecting' || refusals.length > 0) return;
      refusals.push(
        c.watch(['bob']).catch((e: RealtimeClientError) => e.code),
        c.setStatus('away').catch((e: RealtimeClientError) => e.code),
      );
    });
    restartConnections(app);
    await until(() => refusals.length === 2);
    expect(await Promise.all(refusals)).toEqual(['OFFLINE_QUEUE_FULL', 'OFFLINE_QUEUE_FULL']);
    recording.sent.length = 0;
    await until(() => c.state === 'connected');
    // The app was told both failed: the client must not do them behind its back.
    const events = recording.sent.map((text) => (JSON.parse(text) as { event: string }).event);
    expect(events).not.toContain('rt:watch');
    expect(events).not.toContain('rt:status');
  });
});
