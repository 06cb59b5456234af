// An invisible user is, to everyone else, exactly an offline user: on every path that
// names or counts users to other clients (rt:room, gRPC GetRoom, the WebRTC call's
// rt:peer-joined, rt:peer-left and rt:signal), not only in presence's own lists.
import { describe, expect, it } from 'vitest';
import type { RealtimeModuleOptions } from '../../../lib/index.js';
import { join, userFromQuery, withHarness } from '../../support/fixtures.js';
import { startGrpcApp } from '../../support/grpc.js';
import { eventIs } from '../../support/ws-client.js';

const OPTIONS: RealtimeModuleOptions = {
  // WebSocket clients name their user in the query, gRPC calls in their metadata.
  authenticate: (request) => ({
    userId: userFromQuery(request).userId ?? (request.headers.user as string | undefined),
  }),
  webrtc: {},
};

describe('an invisible user, as others see it', () => {
  const harness = withHarness();

  it('rt:room neither lists nor counts them; they see themselves, and server code sees all', async () => {
    const app = await harness.start(OPTIONS);
    const ghost = await harness.connect(`${app.wsUrl}?user=ghost`);
    const ghostTab = await harness.connect(`${app.wsUrl}?user=ghost`);
    const alice = await harness.connect(`${app.wsUrl}?user=alice`);
    const anonymous = await harness.connect(app.wsUrl);
    for (const client of [ghost, ghostTab, alice, anonymous]) await join(client, 'lobby');
    const room = async (client: typeof alice) =>
      (await client.request('rt:room', { room: 'lobby' })).data;

    expect(await room(alice)).toMatchObject({ size: 4, users: ['ghost', 'alice'] });
    await ghost.request('rt:status', { status: 'invisible' });

    for (const other of [alice, anonymous]) {
      expect(await room(other)).toMatchObject({ name: 'lobby', size: 2, users: ['alice'] });
    }
    expect(await room(ghostTab)).toMatchObject({ size: 4, users: ['ghost', 'alice'] });
    expect(await app.hub.roomUsers('lobby')).toEqual(['ghost', 'alice']);
    expect((await app.hub.roomInfo('lobby'))?.size).toBe(4);

    // Visible again: listed and counted again.
    await ghost.request('rt:status', { status: 'away' });
    expect(await room(alice)).toMatchObject({ size: 4, users: ['ghost', 'alice'] });
  });

  it('gRPC GetRoom neither lists nor counts them, but for themselves', async () => {
    const app = await startGrpcApp(OPTIONS);
    harness.track(app);
    const ghost = await harness.connect(`${app.wsUrl}?user=ghost`);
    const bob = await harness.connect(`${app.wsUrl}?user=bob`);
    await join(ghost, 'lobby');
    await join(bob, 'lobby');
    await ghost.request('rt:status', { status: 'invisible' });
    const asAlice = app.realtime({ user: 'alice' });
    const asGhost = app.realtime({ user: 'ghost' });
    harness.defer(() => asAlice.close());
    harness.defer(() => asGhost.close());

    expect(await asAlice.unary('GetRoom', { room: 'lobby' })).toMatchObject({
      size: 1,
      users: ['bob'],
    });
    expect(await asGhost.unary('GetRoom', { room: 'lobby' })).toMatchObject({
      size: 2,
      users: ['ghost', 'bob'],
    });
  });

  it("a call's peers know an invisible user's connection, never their name", async () => {
    const app = await harness.start(OPTIONS);
    const alice = await harness.connect(`${app.wsUrl}?user=alice`);
    const ghost = await harness.connect(`${app.wsUrl}?user=ghost`);
    await join(alice, 'call');
    await join(ghost, 'call');
    await ghost.request('rt:status', { status: 'invisible' });
    await alice.request('rt:peer-join', { room: 'call' });
    await ghost.request('rt:peer-join', { room: 'call' });

    const joined = await alice.next(eventIs('rt:peer-joined'));
    expect(joined.data).toEqual({ room: 'call', peer: { id: ghost.connectionId, userId: null } });
    await ghost.request('rt:signal', { room: 'call', to: alice.connectionId, candidate: null });
    const signal = await alice.next(eventIs('rt:signal'));
    expect(signal.data).toEqual({
      room: 'call',
      from: ghost.connectionId,
      fromUser: null,
      candidate: null,
    });
    // The name it joined the call under holds to the end: going visible does not
    // name the connection afterwards.
    await ghost.request('rt:status', { status: 'online' });
    await ghost.request('rt:peer-leave', { room: 'call' });
    const left = await alice.next(eventIs('rt:peer-left'));
    expect(left.data).toEqual({ room: 'call', peer: { id: ghost.connectionId, userId: null } });

    // Alice, visible, is named to the ghost as ever.
    await alice.request('rt:signal', { room: 'call', to: ghost.connectionId, candidate: null });
    expect((await ghost.next(eventIs('rt:signal'))).data).toMatchObject({ fromUser: 'alice' });
  });
});
