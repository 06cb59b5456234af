// WebRTC signaling over the WebSocket transport, with werift peers as clients: two
// members of a room connect peer to peer and talk over a data channel; whoever is not
// in the room cannot signal into it; ICE servers and TURN credentials come on request.
import { createHmac } from 'node:crypto';
import type { RTCDataChannel } from 'werift';
import { describe, expect, it } from 'vitest';
import type { RealtimeModuleOptions } from '../../../lib/index.js';
import { errorReply, join, until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { LOOPBACK_WEBRTC, SignalingPeer, loopbackOnly } from '../../support/webrtc.js';
import { eventIs, type TestClient } from '../../support/ws-client.js';

const OPTIONS: RealtimeModuleOptions = {
  authenticate: userFromQuery,
  webrtc: { ...LOOPBACK_WEBRTC },
};

/** The next message on a data channel, as text. */
function nextMessage(channel: RTCDataChannel): Promise<string> {
  return channel.onMessage.asPromise().then(([data]) => data.toString());
}

describe.runIf(loopbackOnly())('WebRTC signaling', () => {
  const harness = withHarness();
  const peers: SignalingPeer[] = [];
  const peer = (client: TestClient, room: string, remote: string) => {
    const made = new SignalingPeer(client, room, remote);
    peers.push(made);
    harness.defer(() => made.close());
    return made;
  };

  it('two peers of a room connect peer to peer through rt:signal and talk over a data channel', async () => {
    const app = await harness.start(OPTIONS);
    const alice = await harness.connect(`${app.wsUrl}?user=alice`);
    const bob = await harness.connect(`${app.wsUrl}?user=bob`);
    await join(alice, 'call');
    await join(bob, 'call');
    expect((await alice.request('rt:peer-join', { room: 'call' })).data).toEqual({ room: 'call' });
    expect((await bob.request('rt:peer-join', { room: 'call' })).data).toEqual({ room: 'call' });
    // The peer already there hears of the newcomer, and makes it the offer.
    const joined = await alice.next(eventIs('rt:peer-joined'));
    expect(joined.data).toEqual({ room: 'call', peer: { id: bob.connectionId, userId: 'bob' } });

    const fromAlice = peer(alice, 'call', bob.connectionId);
    const fromBob = peer(bob, 'call', alice.connectionId);
    const channel = fromAlice.pc.createDataChannel('chat');
    const remote = fromBob.pc.onDataChannel.asPromise().then(([c]) => c);
    await fromAlice.offer();
    await Promise.all([fromAlice.connected(), fromBob.connected()]);
    const bobsChannel = await remote;
    await until(() => channel.readyState === 'open' && bobsChannel.readyState === 'open');
    const heardByBob = nextMessage(bobsChannel);
    channel.send('hello bob');
    expect(await heardByBob).toBe('hello bob');
    const heardByAlice = nextMessage(channel);
    bobsChannel.send('hello alice');
    expect(await heardByAlice).toBe('hello alice');
    expect([...fromAlice.errors, ...fromBob.errors]).toEqual([]);

    // Bob leaves the call: Alice hears it and can tear her side down.
    await bob.request('rt:leave', { room: 'call' });
    const left = await alice.next(eventIs('rt:peer-left'));
    expect(left.data).toEqual({ room: 'call', peer: { id: bob.connectionId, userId: 'bob' } });
  });

  it('a peer that disconnects is announced to the others', async () => {
    const app = await harness.start(OPTIONS);
    const alice = await harness.connect(`${app.wsUrl}?user=alice`);
    const bob = await harness.connect(`${app.wsUrl}?user=bob`);
    for (const client of [alice, bob]) {
      await join(client, 'call');
      await client.request('rt:peer-join', { room: 'call' });
    }
    const bobId = bob.connectionId;
    await bob.close();
    expect((await alice.next(eventIs('rt:peer-left'))).data).toEqual({
      room: 'call',
      peer: { id: bobId, userId: 'bob' },
    });
    // rt:peer-leave: the same news, and false for a call one is not in.
    const carol = await harness.connect(`${app.wsUrl}?user=carol`);
    await join(carol, 'call');
    await carol.request('rt:peer-join', { room: 'call' });
    await alice.next(eventIs('rt:peer-joined'));
    expect((await carol.request('rt:peer-leave', { room: 'call' })).data).toBe(true);
    expect((await carol.request('rt:peer-leave', { room: 'call' })).data).toBe(false);
    expect((await alice.next(eventIs('rt:peer-left'))).data.peer.id).toBe(carol.connectionId);
  });

  it('refuses signals from outside the room, to non-members, and malformed ones, with documented codes', async () => {
    const refusals: string[] = [];
    const app = await harness.start({
      ...OPTIONS,
      authorize: {
        canSignal: (from, to) => {
          refusals.push(`${String(from.userId)}->${String(to.userId)}`);
          return from.userId !== 'mallory';
        },
      },
    });
    const alice = await harness.connect(`${app.wsUrl}?user=alice`);
    const outsider = await harness.connect(`${app.wsUrl}?user=eve`);
    const mallory = await harness.connect(`${app.wsUrl}?user=mallory`);
    await join(alice, 'call');
    await join(mallory, 'call');
    await join(outsider, 'lobby');
    const offer = { type: 'offer', sdp: 'v=0\r\n' };
    const to = alice.connectionId;
    // Not a member of the room it signals in.
    expect(await outsider.request('rt:signal', { room: 'call', to, description: offer })).toEqual(
      errorReply(expect.any(Number), 'NOT_IN_ROOM'),
    );
    // A member, but the peer is not one: it cannot reach into another room.
    expect(await outsider.request('rt:signal', { room: 'lobby', to, description: offer })).toEqual(
      errorReply(expect.any(Number), 'PEER_NOT_FOUND'),
    );
    // The app's canSignal says no.
    expect(await mallory.request('rt:signal', { room: 'call', to, description: offer })).toEqual(
      errorReply(expect.any(Number), 'FORBIDDEN'),
    );
    expect(refusals).toEqual(['mallory->alice']);
    const bad: unknown[] = [
      null,
      { room: 'call' },
      { room: 'call', to },
      { room: 'call', to, description: offer, candidate: null },
      { room: 'call', to, description: { type: 'bogus', sdp: 'x' } },
      { room: 'call', to, description: { type: 'offer', sdp: 'x'.repeat(70_000) } },
      { room: 'call', to, candidate: { candidate: 42 } },
      { room: 'call', to, candidate: { candidate: 'x', sdpMLineIndex: -1 } },
      { room: 'call', to: '', description: offer },
      { room: 'call', to: mallory.connectionId, candidate: 'x'.repeat(10) },
    ];
    for (const data of bad) {
      expect(await mallory.request('rt:signal', data)).toEqual(
        errorReply(expect.any(Number), 'INVALID_DATA'),
      );
    }
    expect(await mallory.request('rt:signal', { room: '', to, description: offer })).toEqual(
      errorReply(expect.any(Number), 'ROOM_NAME_INVALID'),
    );
    // A peer cannot join the call of a room it is not in.
    expect(await outsider.request('rt:peer-join', { room: 'call' })).toEqual(
      errorReply(expect.any(Number), 'NOT_IN_ROOM'),
    );
    // Alice got none of it.
    expect(await alice.collect(eventIs('rt:signal'))).toEqual([]);
  });

  it('hands out no ICE server by default, and TURN credentials that coturn can check', async () => {
    const plain = await harness.start(OPTIONS);
    const anyone = await harness.connect(`${plain.wsUrl}?user=ann`);
    expect((await anyone.request('rt:ice')).data).toEqual({ iceServers: [] });

    const secret = 'shared-with-coturn';
    const app = await harness.start({
      ...OPTIONS,
      webrtc: {
        iceServers: [{ urls: 'stun:stun.invalid:3478' }],
        turn: { urls: ['turn:127.0.0.1:3478'], secret, ttl: 600 },
      },
    });
    const client = await harness.connect(`${app.wsUrl}?user=ann`);
    const before = Math.floor(Date.now() / 1_000);
    const { iceServers } = (await client.request('rt:ice')).data;
    expect(iceServers[0]).toEqual({ urls: 'stun:stun.invalid:3478' });
    const turn = iceServers[1];
    expect(turn.urls).toEqual(['turn:127.0.0.1:3478']);
    const [expiry, user] = turn.username.split(':');
    expect(user).toBe('ann');
    expect(Number(expiry) - before).toBeGreaterThanOrEqual(600);
    expect(Number(expiry) - before).toBeLessThanOrEqual(601);
    // What coturn's use-auth-secret computes for this username.
    const expected = createHmac('sha1', secret).update(turn.username).digest('base64');
    expect(turn.credential).toBe(expected);
    // An anonymous connection gets credentials named after its connection.
    const stranger = await harness.connect(app.wsUrl);
    const anonymous = (await stranger.request('rt:ice')).data.iceServers[1];
    expect(anonymous.username.split(':')[1]).toBe(stranger.connectionId);
  });

  it('is off unless configured: the events are unknown', async () => {
    const app = await harness.start({ authenticate: userFromQuery });
    const client = await harness.connect(`${app.wsUrl}?user=ann`);
    expect(await client.request('rt:ice')).toEqual(errorReply(expect.any(Number), 'UNKNOWN_EVENT'));
  });

  it('signals and announces peers across nodes of one engine', async () => {
    const cluster = { type: 'memory' as const, shared: `webrtc-${process.pid}` };
    const a = await harness.start({ ...OPTIONS, engine: cluster });
    const b = await harness.start({ ...OPTIONS, engine: cluster });
    const alice = await harness.connect(`${a.wsUrl}?user=alice`);
    const bob = await harness.connect(`${b.wsUrl}?user=bob`);
    for (const client of [alice, bob]) {
      await join(client, 'call');
      await client.request('rt:peer-join', { room: 'call' });
    }
    expect((await alice.next(eventIs('rt:peer-joined'))).data.peer.id).toBe(bob.connectionId);
    const offer = { type: 'offer', sdp: 'v=0\r\n' };
    const sent = await alice.request('rt:signal', {
      room: 'call',
      to: bob.connectionId,
      description: offer,
    });
    expect(sent.data).toBeNull();
    expect((await bob.next(eventIs('rt:signal'))).data).toEqual({
      room: 'call',
      from: alice.connectionId,
      fromUser: 'alice',
      description: offer,
    });
    await bob.close();
    expect((await alice.next(eventIs('rt:peer-left'))).data.peer.id).toBe(bob.connectionId);
  });
});
