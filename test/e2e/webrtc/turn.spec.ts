// Two werift peers that may only use relay candidates connect through a real coturn
// (use-auth-secret) on loopback, with TURN credentials the server minted for them.
import type { RTCDataChannel } from 'werift';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join, userFromQuery, withHarness } from '../../support/fixtures.js';
import { turnAvailable, startTurn, type TurnServer } from '../../support/turn.js';
import { LOOPBACK_WEBRTC, SignalingPeer, loopbackOnly } from '../../support/webrtc.js';
import type { TestClient } from '../../support/ws-client.js';

describe.runIf(loopbackOnly() && turnAvailable())('WebRTC through coturn', () => {
  let turn: TurnServer;
  const harness = withHarness();
  beforeAll(async () => {
    turn = await startTurn();
  });
  afterAll(() => turn.stop());

  it('connects two relay-only peers with credentials minted by the server, and carries their data', async () => {
    const app = await harness.start({
      authenticate: userFromQuery,
      webrtc: { ...LOOPBACK_WEBRTC, turn: { urls: [turn.url], secret: turn.secret, ttl: 300 } },
    });
    const clients: TestClient[] = [];
    for (const user of ['ria', 'rob']) {
      const client = await harness.connect(`${app.wsUrl}?user=${user}`);
      await join(client, 'relayed');
      clients.push(client);
    }
    const [ria, rob] = clients as [TestClient, TestClient];
    const relayPeer = async (client: TestClient, remote: string) => {
      const { iceServers } = (await client.request('rt:ice')).data;
      const peer = new SignalingPeer(client, 'relayed', remote, {
        iceServers,
        iceTransportPolicy: 'relay',
      });
      harness.defer(() => peer.close());
      return peer;
    };
    const fromRia = await relayPeer(ria, rob.connectionId);
    const fromRob = await relayPeer(rob, ria.connectionId);
    const channel = fromRia.pc.createDataChannel('relayed');
    const remote = fromRob.pc.onDataChannel.asPromise().then(([c]) => c as RTCDataChannel);
    await fromRia.offer();
    await Promise.all([fromRia.connected(20_000), fromRob.connected(20_000)]);
    const robsChannel = await remote;
    const heard = robsChannel.onMessage.asPromise().then(([data]) => data.toString());
    await channel.stateChanged.watch((state) => state === 'open', 5_000).catch(() => undefined);
    channel.send('through the relay');
    expect(await heard).toBe('through the relay');
    // Only relay candidates were offered, and coturn allocated relays for both users.
    const sdp = fromRia.pc.localDescription!.sdp;
    expect(sdp).toContain('typ relay');
    expect(sdp).not.toContain('typ host');
    expect(turn.log()).toMatch(/ria/);
    expect(turn.log()).toMatch(/rob/);
  }, 40_000);
});
