// Regression tests of the review's hardening, for the server API and the client:
// joins of closed connections, gateway hooks, empty targets, client listener errors.
import {
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../lib/client/index.js';
import { RealtimeError, WsConnection } from '../../lib/index.js';
import {
  appForEachTest,
  expectAlive,
  join,
  leftovers,
  until,
  userFromQuery,
  recordUncaught,
} from '../support/fixtures.js';
import { inRoom } from '../support/room-frames.js';
import { eventIs } from '../support/ws-client.js';

@WebSocketGateway()
class RecordingGateway implements OnGatewayConnection, OnGatewayDisconnect {
  readonly connections: WsConnection[] = [];
  readonly disconnects: { id: string; info: unknown }[] = [];

  handleConnection(client: WsConnection): void {
    this.connections.push(client);
  }

  handleDisconnect(client: WsConnection, info: unknown): void {
    this.disconnects.push({ id: client.id, info });
  }
}

@WebSocketGateway()
class ThrowingConnectGateway implements OnGatewayConnection {
  handleConnection(): void {
    throw new Error('handleConnection boom');
  }

  @SubscribeMessage('echo')
  echo() {
    return 'echoed';
  }
}

describe('gateway hooks and closed connections', () => {
  const fixture = appForEachTest({}, { providers: [RecordingGateway] });
  const gateway = () => fixture.app.app.get(RecordingGateway);

  it('rejects hub.join of a connection that closed, and leaves no trace of it', async () => {
    const { hub } = fixture;
    const baseline = hub.connections.count();
    const client = await fixture.connect();
    const stored = gateway().connections.find((c) => c.id === client.connectionId)!;
    expect(stored).toBeInstanceOf(WsConnection);

    await client.close();
    await until(() => hub.connections.count() === baseline);

    const error = await hub.join(stored, 'late').then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(RealtimeError);
    expect(error).toMatchObject({ code: 'INVALID_DATA' });
    await expect(hub.join(stored.id, 'late')).rejects.toMatchObject({ code: 'INVALID_DATA' });
    expect(hub.connections.subscribers('r:late')).toBeUndefined();
    expect(await hub.roomMembers('late')).toEqual([]);
    expect(await hub.roomInfo('late')).toBeUndefined();
    expect([...stored.rooms]).toEqual([]);
  });

  it('passes handleDisconnect the close code and reason the client sent', async () => {
    const client = await fixture.connect();
    client.socket.close(4100, 'bye');
    expect(await client.closed).toBe(4100);
    await until(() => gateway().disconnects.length === 1);
    expect(gateway().disconnects).toEqual([
      { id: client.connectionId, info: { code: 4100, reason: 'bye' } },
    ]);
  });
});

describe('a gateway whose handleConnection throws', () => {
  const fixture = appForEachTest({}, { providers: [ThrowingConnectGateway] });

  it('still connects the client and answers its requests, and the process survives', async () => {
    const uncaught = recordUncaught(fixture.harness);
    const client = await fixture.connect();
    expect(client.connected).toEqual({
      event: 'rt:connected',
      data: {
        connectionId: expect.any(String),
        userId: null,
        pingInterval: 25_000,
        pongTimeout: 10_000,
      },
    });
    const reply = await client.request('echo');
    expect(reply).toEqual({ event: 'rt:reply', id: reply.id, data: 'echoed' });
    await expectAlive(client);
    await delay(50); // errors rethrown on a timer surface by now
    // Without a listener, an uncaught exception ends a Node process.
    expect(uncaught).toEqual([]);
  });
});

describe('empty targets', () => {
  const fixture = appForEachTest({ authenticate: userFromQuery });

  it('hub.to([]) and hub.toUser([]) deliver to nobody', async () => {
    const { hub } = fixture;
    const client = await fixture.connect('u1');
    await join(client, 'lobby');

    await hub.to([]).emit('nobody', 1);
    await hub.toUser([]).emit('nobody', 2);
    await hub.to([]).emitBatch([{ event: 'nobody', data: 3 }]);
    await hub.toUser([]).except('someone-else').emit('nobody', 4);
    expect(await leftovers(client)).toEqual([]);

    // The same client does get what is addressed to it.
    await hub.to('lobby').emit('somebody', 5);
    await hub.toUser('u1').emit('somebody', 6);
    // The empty targets numbered nothing: this is the room's first message.
    expect(await client.next(eventIs('somebody'))).toEqual(
      inRoom({ event: 'somebody', data: 5, room: 'lobby' }, 1),
    );
    expect(await client.next(eventIs('somebody'))).toEqual({ event: 'somebody', data: 6 });
    expect(await leftovers(client)).toEqual([]);
  });
});

describe('client listeners that throw', () => {
  const fixture = appForEachTest();

  it('do not stop the other listeners, nor the rest of a batch', async () => {
    const uncaught = recordUncaught(fixture.harness);
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    fixture.harness.defer(() => consoleError.mockRestore());
    const client = new RealtimeClient(fixture.app.wsUrl, { WebSocket });
    fixture.harness.defer(() => client.close());
    await client.ready;
    await client.join('batch');

    const thrown = new Error('listener a failed');
    const seen: string[] = [];
    client.on('a', () => {
      seen.push('a1');
      throw thrown;
    });
    client.on('a', (data) => seen.push(`a2:${String(data)}`));
    client.on('b', (data) => seen.push(`b:${String(data)}`));

    await fixture.hub.to('batch').emitBatch([
      { event: 'a', data: 1 },
      { event: 'b', data: 2 },
    ]);
    await until(() => seen.includes('b:2'));
    expect(seen).toEqual(['a1', 'a2:1', 'b:2']);
    expect(consoleError).toHaveBeenCalledTimes(1);
    expect(consoleError).toHaveBeenCalledWith(thrown);

    // The client goes on working.
    expect((await client.join('after')).info).toMatchObject({ name: 'after', size: 1 });
    await delay(50);
    expect(uncaught).toEqual([]);
  });
});
