// The library client's life across failures: server processes killed and frozen,
// nodes that die while another publishes, refusals that must not loop, the offline
// queue, and rooms, watches and statuses carried over to the next connection.
import { Injectable } from '@nestjs/common';
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
  type ClientState,
  type RealtimeClientOptions,
  type StateChange,
  type WebSocketConstructor,
} from '../../../lib/client/index.js';
import { RpcService, type RealtimeModuleOptions } from '../../../lib/index.js';
import type { WsConnection } from '../../../lib/transports/websocket/ws-connection.js';
import { startApp, trackSockets, type TestApp } from '../../support/app.js';
import { reconnected } from '../../support/client.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { freePort, startServerProcess, type ServerProcess } from '../../support/processes.js';

/** Retries fast, so that tests do not wait on backoff. */
const FAST: RealtimeClientOptions = {
  WebSocket,
  reconnect: { initialDelay: 50, maxDelay: 200 },
};

// Apps, clients and timers of a test, closed after it (clients and timers first).
const harness = withHarness();

function client<S extends object = any>(
  url: string | (() => string | Promise<string>),
  options: RealtimeClientOptions = {},
): RealtimeClient<S> {
  const created = new RealtimeClient<S>(url, { ...FAST, ...options });
  harness.defer(() => created.close());
  return created;
}

/** Every state change of a client, in order. */
function recordStates(c: RealtimeClient<any>): [ClientState, StateChange][] {
  const states: [ClientState, StateChange][] = [];
  c.onState((state, change) => states.push([state, change]));
  return states;
}

/** A WebSocket constructor that counts the sockets it makes. */
function countingWebSocket(): { WebSocket: WebSocketConstructor; count: () => number } {
  let made = 0;
  class Counting extends WebSocket {
    constructor(url: string) {
      super(url);
      made++;
    }
  }
  return { WebSocket: Counting, count: () => made };
}

const started = (
  options: RealtimeModuleOptions,
  providers: any[] = [],
  port = 0,
): Promise<TestApp> => harness.start(options, { providers }, { port });

describe('a server process killed and started again', () => {
  it('is reconnected to by itself; the room says it could not recover, then live ticks flow', async () => {
    const port = await freePort();
    let server: ServerProcess = await startServerProcess('ticking-server', { PORT: String(port) });
    harness.defer(() => server.kill());
    const c = client(`ws://127.0.0.1:${port}/ws`);
    const states = recordStates(c);
    const feed = await c.join('feed', { recover: true });
    const ticks: { n: number; pid: number }[] = [];
    feed.on('tick', (tick: { n: number; pid: number }) => ticks.push(tick));
    const resyncs: unknown[] = [];
    feed.onResync((info) => resyncs.push(info));
    await until(() => ticks.length >= 20, 5_000);

    const firstPid = server.child.pid;
    await server.kill('SIGKILL');
    await until(() => c.state === 'reconnecting');
    server = await startServerProcess('ticking-server', { PORT: String(port) });
    await until(() => ticks.some((t) => t.pid === server.child.pid), 10_000);
    await until(() => ticks.filter((t) => t.pid === server.child.pid).length >= 20, 5_000);

    // Each process's ticks arrive once, in order, without gaps.
    for (const pid of [firstPid, server.child.pid]) {
      const ns = ticks.filter((t) => t.pid === pid).map((t) => t.n);
      expect(ns).toEqual(ns.map((_, i) => ns[0] + i));
    }
    // The new process has another epoch: recovery is refused, and the app is told once.
    expect(resyncs).toHaveLength(1);
    expect(resyncs[0]).toMatchObject({ name: 'feed', recovered: false });
    const seen = states.map(([state]) => state);
    expect(seen[0]).toBe('connected');
    expect(seen.at(-1)).toBe('connected');
    expect(seen).toContain('reconnecting');
    expect(states.find(([s]) => s === 'reconnecting')![1].code).toBe(1006);
  }, 30_000);

  it('drops a frozen server after pingInterval + pongTimeout of silence, and comes back when it wakes', async () => {
    const port = await freePort();
    const server = await startServerProcess('ticking-server', {
      PORT: String(port),
      PING_MS: '150',
    });
    harness.defer(() => server.kill());
    const c = client(`ws://127.0.0.1:${port}/ws`, { connectTimeout: 300 });
    const states = recordStates(c);
    await c.ready;
    // A quiet connection (no room): the server's rt:ping frames, answered, keep it.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(states.map(([s]) => s)).toEqual(['connected']);

    server.child.kill('SIGSTOP');
    await until(() => c.state === 'reconnecting', 2_000);
    const drop = states.find(([s]) => s === 'reconnecting')![1];
    expect(drop.reason).toBe('no message within 300 ms');
    // While it is frozen, attempts reach its backlog and get no handshake: cut at connectTimeout.
    await until(
      () => states.some(([, change]) => change.reason === 'no rt:connected within 300 ms'),
      3_000,
    );
    server.child.kill('SIGCONT');
    await until(() => c.state === 'connected', 5_000);
  }, 30_000);
});

describe('a node that dies while another node of the same engine publishes', () => {
  it('loses the client nothing: it reconnects to the restarted node and sees every message once, in order', async () => {
    const options: RealtimeModuleOptions = {
      engine: { type: 'memory', shared: `dies-${process.pid}-${Date.now()}` },
      history: { maxCount: 10_000 },
    };
    const a = await startApp(options);
    const aSockets = trackSockets(a);
    const b = await started(options);
    const c = client(a.wsUrl);
    const states = recordStates(c);
    const feed = await c.join('feed', { recover: true });
    const seen: number[] = [];
    feed.on('n', (n: number) => seen.push(n));
    const resyncs: unknown[] = [];
    feed.onResync((info) => resyncs.push(info));

    let published = 0;
    const publisher = setInterval(() => void b.hub.to('feed').emit('n', ++published), 2);
    harness.defer(() => clearInterval(publisher));
    await until(() => seen.length >= 100, 5_000);

    // Node a crashes: its sockets are cut without a close frame, then it is gone.
    for (const socket of aSockets) socket.destroy();
    await a.close();
    await until(() => c.state === 'reconnecting');
    const missedFrom = published;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await started(options, [], a.port);
    await until(() => c.state === 'connected', 5_000);
    await until(() => seen.length >= missedFrom + 200, 5_000);
    clearInterval(publisher);
    await until(() => seen.length === published, 5_000);

    expect(published - missedFrom).toBeGreaterThan(50); // published while it was away
    expect(seen).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(resyncs).toEqual([]);
    // Attempts fail while the node is down: one `reconnecting` per wait, then connected.
    const order = states.map(([s]) => s);
    expect(order[0]).toBe('connected');
    expect(order.at(-1)).toBe('connected');
    expect(order.slice(1, -1).every((s) => s === 'reconnecting')).toBe(true);
    expect(again.hub.connections.count()).toBe(1);
  }, 30_000);
});

@WebSocketGateway()
class NotesGateway {
  readonly notes: unknown[] = [];

  @SubscribeMessage('note')
  note(@MessageBody() data: unknown) {
    this.notes.push(data);
    return { noted: data };
  }
}

@Injectable()
class Calculator {
  constructor(readonly rpc: RpcService) {
    rpc.register('sum', (params: unknown) => (params as number[]).reduce((x, y) => x + y, 0));
  }
}

/**
 * Retries wait their whole ceiling (no jitter), so that a test can act while offline.
 * Called once the app has started: Nest's injector tells its providers apart by ids
 * made with Math.random, and a constant one makes it see cycles that are not there.
 */
function slowRetries(): void {
  vi.spyOn(Math, 'random').mockReturnValue(0.999);
  harness.defer(() => vi.restoreAllMocks());
}

describe('the library client against one app', () => {
  const options: RealtimeModuleOptions = { authenticate: userFromQuery };

  it('does not retry a refused handshake with a fixed URL', async () => {
    const app = await started({ authenticate: () => null });
    const counting = countingWebSocket();
    const c = client(app.wsUrl, { WebSocket: counting.WebSocket });
    await expect(c.ready).rejects.toMatchObject({ code: 'CLOSED' });
    expect(await c.closed).toBe(4501);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(counting.count()).toBe(1);
    expect(c.state).toBe('disconnected');
    expect(() => c.emit('x')).toThrow(RealtimeClientError);
  });

  it('retries a refused handshake once with a fresh URL, and stops at the second refusal', async () => {
    const app = await started({
      authenticate: (request) => (request.url!.includes('token=2') ? {} : null),
    });
    let calls = 0;
    const stale = client(() => `${app.wsUrl}?token=0`);
    expect(await stale.closed).toBe(4501);
    const fresh = client(() => `${app.wsUrl}?token=${++calls}`);
    const states = recordStates(fresh);
    await fresh.ready;
    expect(calls).toBe(2);
    expect(states.map(([s, change]) => [s, change.code])).toEqual([
      ['reconnecting', 4501],
      ['connected', undefined],
    ]);
  });

  it('does not reconnect when the app disconnects it (4500)', async () => {
    const app = await started(options);
    const counting = countingWebSocket();
    const c = client(`${app.wsUrl}?user=u1`, { WebSocket: counting.WebSocket });
    const { connectionId } = await c.ready;
    app.hub.disconnect(connectionId, 'kicked');
    expect(await c.closed).toBe(4500);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(counting.count()).toBe(1);
  });

  it('stops after maxAttempts retries in a row', async () => {
    const port = await freePort();
    const counting = countingWebSocket();
    const c = client(`ws://127.0.0.1:${port}/ws`, {
      WebSocket: counting.WebSocket,
      reconnect: { initialDelay: 10, maxDelay: 20, maxAttempts: 3 },
    });
    expect(await c.closed).toBe(1006);
    expect(counting.count()).toBe(4);
    await expect(c.ready).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('after a server restart, joins its rooms again, watches again and sets its status again', async () => {
    const app = await startApp({ ...options, presence: { offlineDelay: 50 } });
    const port = app.port;
    const alice = client(`${app.wsUrl}?user=alice`);
    const lobby = await alice.join('lobby', { presence: true, recover: true });
    await alice.watch(['bob']);
    await alice.setStatus('busy', { activity: 'testing' });
    const presence: [string, string][] = [];
    alice.onPresence((state) => presence.push([state.userId, state.status]));

    await app.close(); // 1001: shutting down
    await until(() => alice.state === 'reconnecting');
    const next = await started({ ...options, presence: { offlineDelay: 50 } }, [], port);
    await until(() => alice.state === 'connected', 5_000);
    expect(lobby.joined).toBe(true);
    expect([...lobby.members.values()]).toMatchObject([{ userId: 'alice', status: 'busy' }]);
    expect(presence).toContainEqual(['bob', 'offline']); // what the re-watch brought

    const bob = client(`${next.wsUrl}?user=bob`);
    await bob.join('lobby');
    await until(() => presence.some(([user, status]) => user === 'bob' && status === 'online'));
    await until(() => lobby.members.has('bob'));
    const seen: unknown[] = [];
    lobby.on('chat', (data) => seen.push(data));
    await bob.publish('lobby', 'chat', 'after the restart');
    await until(() => seen.length === 1);
    expect(seen).toEqual(['after the restart']);
  }, 20_000);

  it('queues what is sent while reconnecting and sends it in order once connected', async () => {
    const app = await started(options, [NotesGateway, Calculator]);
    slowRetries(); // after the start: Nest names its providers with Math.random
    const sockets = trackSockets(app);
    const c = client(`${app.wsUrl}?user=u1`, { reconnect: { initialDelay: 200, maxDelay: 200 } });
    await c.ready;
    const results: Promise<unknown>[] = [];
    let timedOut: Promise<unknown> | undefined;
    c.onState((state) => {
      if (state !== 'reconnecting' || results.length > 0) return;
      // Sent while there is no connection: all wait in the queue.
      c.emit('note', 1);
      results.push(c.request('note', 2));
      timedOut = c.request('note', 'too late', 20).catch((e: RealtimeClientError) => e.code);
      c.emit('note', 3);
      results.push(c.call('sum', [1, 2, 3]));
    });
    for (const socket of sockets) socket.destroy();
    await until(() => results.length > 0);
    expect(c.queued).toBe(5);
    expect(await timedOut).toBe('TIMEOUT');
    expect(c.queued).toBe(4);
    expect(await Promise.all(results)).toEqual([{ noted: 2 }, 6]);
    const gateway = app.app.get(NotesGateway);
    await until(() => gateway.notes.length === 3);
    expect(gateway.notes).toEqual([1, 2, 3]);
  });

  it('refuses frames past the offline queue bound, clearly, and keeps the others', async () => {
    const app = await started(options, [NotesGateway]);
    slowRetries();
    const sockets = trackSockets(app);
    const c = client(`${app.wsUrl}?user=u1`, {
      offlineQueue: 2,
      reconnect: { initialDelay: 200, maxDelay: 200 },
    });
    await c.ready;
    const outcomes: unknown[] = [];
    c.onState((state) => {
      if (state !== 'reconnecting' || outcomes.length > 0) return;
      c.emit('note', 'a');
      outcomes.push(c.request('note', 'b'));
      try {
        c.emit('note', 'c');
      } catch (error) {
        outcomes.push((error as RealtimeClientError).code);
      }
      outcomes.push(c.request('note', 'd').catch((e: RealtimeClientError) => e.code));
    });
    for (const socket of sockets) socket.destroy();
    await until(() => outcomes.length === 3);
    expect(await Promise.all(outcomes)).toEqual([
      { noted: 'b' },
      'OFFLINE_QUEUE_FULL',
      'OFFLINE_QUEUE_FULL',
    ]);
    const gateway = app.app.get(NotesGateway);
    await until(() => gateway.notes.length === 2);
    expect(gateway.notes).toEqual(['a', 'b']);
  });

  it('fails requests in flight when the connection goes (they may have run), and queues none with offlineQueue 0', async () => {
    const app = await started(options, [NotesGateway]);
    const sockets = trackSockets(app);
    const c = client(`${app.wsUrl}?user=u1`, { offlineQueue: 0 });
    await c.ready;
    await c.request('note', 'warm-up');
    const never = c.join('a'.repeat(300)).catch((e: RealtimeClientError) => e.code);
    expect(await never).toBe('ROOM_NAME_INVALID');
    const inFlight = c.request('note', 'cut').catch((e: RealtimeClientError) => e.code);
    let offline: Promise<unknown> | undefined;
    c.onState((state) => {
      if (state === 'reconnecting') offline ??= c.request('note', 'offline').catch((e) => e.code);
    });
    const back = reconnected(c);
    for (const socket of sockets) socket.destroy();
    expect(await inFlight).toBe('CONNECTION_LOST');
    await back;
    expect(await offline).toBe('OFFLINE_QUEUE_FULL');
  });

  it('makes typed calls to the server, and answers the server', async () => {
    interface Schema {
      calls: { sum: { params: number[]; result: number } };
      answers: { confirm: { params: { text: string }; result: boolean } };
    }
    const app = await started(options, [Calculator]);
    const c = client<Schema>(`${app.wsUrl}?user=u1`);
    c.answer('confirm', ({ text }) => text === 'sure?');
    const { connectionId } = await c.ready;
    const sum: number = await c.call('sum', [4, 5]);
    expect(sum).toBe(9);
    const rpc = app.app.get(RpcService);
    expect(await rpc.call(connectionId, 'confirm', { text: 'sure?' })).toBe(true);
    await expect(c.call('nope' as 'sum', [])).rejects.toMatchObject({ code: 'RPC_UNKNOWN_METHOD' });
  });
});

/** Waits on real I/O only (setImmediate is not faked), up to a bound. */
async function ioUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000 && !check(); i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(check()).toBe(true);
}

describe('backoff between attempts', () => {
  it('waits a random share of a ceiling that doubles up to the cap, and not a millisecond less', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    harness.defer(() => vi.restoreAllMocks());
    harness.defer(() => vi.useRealTimers());
    const port = await freePort(); // nothing listens: every attempt is refused at once
    const counting = countingWebSocket();
    const c = client(`ws://127.0.0.1:${port}/ws`, {
      WebSocket: counting.WebSocket,
      reconnect: { initialDelay: 1_000, maxDelay: 8_000 },
    });
    const delays: number[] = [];
    c.onState((state, change) => {
      if (state === 'reconnecting') delays.push(change.delay!);
    });
    for (let attempt = 1; attempt <= 6; attempt++) {
      await ioUntil(() => delays.length === attempt);
      expect(counting.count()).toBe(attempt);
      vi.advanceTimersByTime(delays[attempt - 1] - 1);
      expect(counting.count()).toBe(attempt);
      vi.advanceTimersByTime(1);
      expect(counting.count()).toBe(attempt + 1);
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 4_000, 4_000]);
  });
});

/** Closes every connection of the app with 1012 (restart): the client reconnects. */
function restartConnections(app: TestApp): void {
  for (const connection of app.hub.connections.list()) connection.close(1012, 'restart');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries fast, so that tests do not wait on backoff. */
const QUICK: RealtimeClientOptions = {
  WebSocket,
  reconnect: { initialDelay: 20, maxDelay: 50 },
};

function quickClient(
  url: string | (() => string | Promise<string>),
  options: RealtimeClientOptions = {},
): RealtimeClient {
  const created = new RealtimeClient(url, { ...QUICK, ...options });
  harness.defer(() => created.close());
  return created;
}

describe('regressions', () => {
  /** A node whose engine is down: it says rt:connected, then closes with 1011 (realtime-ws.server.ts). */
  @WebSocketGateway()
  class BrokenEngineGateway implements OnGatewayConnection {
    handleConnection(connection: WsConnection): void {
      connection.close(1011, 'engine unavailable');
    }
  }

  const options: RealtimeModuleOptions = { authenticate: userFromQuery };

  describe('backoff', () => {
    it('backs off against a node that closes every connection right after rt:connected', async () => {
      const app = await started(options, [BrokenEngineGateway]);
      vi.spyOn(Math, 'random').mockReturnValue(0.5); // after the start, as slowRetries
      harness.defer(() => vi.restoreAllMocks());
      let sockets = 0;
      const c = quickClient(
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
      const c = quickClient(`${app.wsUrl}?user=u1`, { maxPendingRequests: 2 });
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
      const c = quickClient(`${app.wsUrl}?user=u1`, { requestTimeout: 300 });
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
      const c = quickClient(`${app.wsUrl}?user=alice`);
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
});
