// RealtimeWsAdapter, installed as any Nest WebSocket adapter: beside it, a Socket.IO
// gateway (through the fallback adapter) and a plain platform-ws gateway on another
// path both keep working; an app that forgot it, or a namespace with nowhere to go,
// fails at start-up with an error that says what to do. Never a silent takeover.
import { IoAdapter } from '@nestjs/platform-socket.io';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import { io, type Socket as IoClient } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeWsAdapter, RealtimeWsServer, type WsConnection } from '../../../lib/index.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { userFromQuery, withHarness } from '../../support/fixtures.js';
import { testLogger } from '../../support/logger.js';

/** A Socket.IO gateway, as an app that had one before nest-realtime would. */
@WebSocketGateway({ namespace: 'legacy' })
class LegacyGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown) {
    return { echoed: data };
  }
}

/** A second namespace of the same Socket.IO server. */
@WebSocketGateway({ namespace: 'second' })
class SecondLegacyGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown) {
    return { second: data };
  }
}

/** A Socket.IO gateway whose options would have been meant for Socket.IO, without a namespace. */
@WebSocketGateway({ cors: { origin: '*' } })
class AmbiguousGateway {}

/** The app's realtime gateway. */
@WebSocketGateway()
class ChatGateway {
  @WebSocketServer() server!: RealtimeWsServer;

  @SubscribeMessage('whoami')
  whoami(@ConnectedSocket() client: WsConnection) {
    return { user: client.userId, realtime: this.server instanceof RealtimeWsServer };
  }
}

/** A plain @nestjs/platform-ws gateway on a path of its own. */
@WebSocketGateway({ path: '/raw' })
class RawGateway {
  @SubscribeMessage('ping')
  ping() {
    return { event: 'pong', data: 'raw' };
  }
}

describe.each(PLATFORMS)('RealtimeWsAdapter beside other gateways, over %s', (platform) => {
  usePlatform(platform);
  const harness = withHarness();

  it('serves a Socket.IO gateway through its fallback, and the realtime ones itself', async () => {
    const app = await harness.start(
      { authenticate: userFromQuery },
      { providers: [LegacyGateway, SecondLegacyGateway, ChatGateway] },
      { adapter: (nest) => new RealtimeWsAdapter(nest, { fallback: new IoAdapter(nest) }) },
    );
    for (const transports of [['websocket'], ['polling']]) {
      for (const [namespace, answer] of [
        ['legacy', { echoed: { n: 1 } }],
        ['second', { second: { n: 1 } }],
      ] as const) {
        const socket: IoClient = io(`http://127.0.0.1:${app.port}/${namespace}`, {
          transports,
          reconnection: false,
        });
        harness.defer(() => socket.close());
        expect(await socket.timeout(3_000).emitWithAck('echo', { n: 1 })).toEqual(answer);
        socket.close();
      }
    }
    const client = await harness.connect(`${app.wsUrl}?user=ada`);
    expect((await client.request('whoami')).data).toEqual({ user: 'ada', realtime: true });
    expect((await client.request('rt:join', { room: 'lobby' })).data).toMatchObject({
      name: 'lobby',
    });
  });

  it('warns of a gateway with options of another library and no namespace or path', async () => {
    await harness.start(
      {},
      { providers: [AmbiguousGateway] },
      { adapter: (nest) => new RealtimeWsAdapter(nest, { fallback: new IoAdapter(nest) }) },
    );
    expect(testLogger.problems().map((entry) => entry.text)).toEqual([
      expect.stringMatching(/options cors but no namespace or path runs on nest-realtime/),
    ]);
  });

  it('serves a gateway on another path as a plain platform-ws server', async () => {
    const app = await harness.start({}, { providers: [RawGateway, ChatGateway] });
    const raw = harness.trackSocket(new WebSocket(`ws://127.0.0.1:${app.port}/raw`));
    await new Promise((resolve, reject) => raw.once('open', resolve).once('error', reject));
    const reply = new Promise<string>((resolve) => raw.once('message', (m) => resolve(String(m))));
    raw.send(JSON.stringify({ event: 'ping' }));
    expect(JSON.parse(await reply)).toEqual({ event: 'pong', data: 'raw' });
    const client = await harness.connect(app.wsUrl);
    expect((await client.request('whoami')).data).toMatchObject({ realtime: true });
    // Neither path's handlers leak to the other.
    expect((await client.request('ping')).error).toMatchObject({ code: 'UNKNOWN_EVENT' });
    // An upgrade to no one's path is refused, not left hanging.
    expect((await harness.handshake(`ws://127.0.0.1:${app.port}/nowhere`)).status).toBe(404);
  });

  it('fails the start, saying what to do, when the app set another adapter', async () => {
    await expect(
      harness.start({}, { providers: [ChatGateway] }, { adapter: (nest) => new IoAdapter(nest) }),
    ).rejects.toThrow(
      /needs RealtimeWsAdapter.*app\.useWebSocketAdapter\(new RealtimeWsAdapter\(app\)\)/,
    );
  });

  it('fails the start when the app set no adapter (Nest would pick Socket.IO)', async () => {
    await expect(harness.start({}, {}, { adapter: null })).rejects.toThrow(
      /needs RealtimeWsAdapter/,
    );
  });

  it('fails the start on a namespaced gateway without a fallback, naming the fix', async () => {
    await expect(harness.start({}, { providers: [LegacyGateway] })).rejects.toThrow(
      /has a namespace.*fallback: new IoAdapter\(app\)/,
    );
  });

  it('needs no adapter when the WebSocket transport is off and the app has no gateway', async () => {
    const app = await harness.start({ websocket: false }, {}, { adapter: null });
    expect(app.port).toBeGreaterThan(0);
  });
});
