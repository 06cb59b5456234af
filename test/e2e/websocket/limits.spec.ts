import { describe, expect, it, vi } from 'vitest';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { userFromQuery, withHarness } from '../../support/fixtures.js';
import { inRoom } from '../../support/room-frames.js';
import { eventIs, type TestClient } from '../../support/ws-client.js';

// -- helpers (local to this file) ----------------------------------------------

const { start, connect, open } = withHarness();

/** 0 if the client got rt:connected, else its close code. */
function outcome(client: TestClient): Promise<number> {
  return client.next(eventIs('rt:connected')).then(
    () => 0,
    () => client.closeCode ?? -1,
  );
}

// -- tests ----------------------------------------------------------------------

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('websocket.maxConnections', () => {
    it('closes the connection past the limit with 1013, and accepts again once one leaves', async () => {
      const app = await start({ websocket: { maxConnections: 2 } });
      const hub = app.hub;
      const a = await connect(app.wsUrl);
      await connect(app.wsUrl);

      const third = await open(app.wsUrl);
      expect(await third.closed).toBe(1013);
      expect(third.frames).toEqual([]); // never got rt:connected
      expect(hub.connections.count()).toBe(2);

      await a.close();
      await vi.waitFor(() => expect(hub.connections.count()).toBe(1));
      const fourth = await connect(app.wsUrl);
      expect(fourth.socket.readyState).toBe(fourth.socket.OPEN);
      expect((await fourth.request('rt:join', { room: 'r' })).data).toMatchObject({ name: 'r' });
      expect(hub.connections.count()).toBe(2);
    });

    it('holds under concurrent handshakes (async authenticate): exactly the limit is accepted', async () => {
      const app = await start({
        websocket: { maxConnections: 2 },
        authenticate: async () => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return { userId: 'u' };
        },
      });
      const clients = await Promise.all(Array.from({ length: 6 }, () => open(app.wsUrl)));
      const codes = await Promise.all(clients.map(outcome));
      expect(codes.filter((code) => code === 0)).toHaveLength(2);
      expect(codes.filter((code) => code === 1013)).toHaveLength(4);
      expect(app.hub.connections.count()).toBe(2);
    });
  });

  describe('websocket.maxConnectionsPerUser', () => {
    it("closes a user's connection past the limit with 4001; other users still connect", async () => {
      const app = await start({
        websocket: { maxConnectionsPerUser: 2 },
        authenticate: userFromQuery,
      });
      const hub = app.hub;
      await connect(`${app.wsUrl}?user=alice`);
      await connect(`${app.wsUrl}?user=alice`);

      const third = await open(`${app.wsUrl}?user=alice`);
      expect(await third.closed).toBe(4001);
      expect(third.frames).toEqual([]);
      expect(hub.connections.countByUser('alice')).toBe(2);

      const bob = await connect(`${app.wsUrl}?user=bob`);
      expect((await bob.request('rt:join', { room: 'r' })).data).toMatchObject({ name: 'r' });
      expect(hub.connections.countByUser('bob')).toBe(1);
      expect(hub.connections.count()).toBe(3);
    });

    it('holds under concurrent handshakes of one user', async () => {
      const app = await start({
        websocket: { maxConnectionsPerUser: 2 },
        authenticate: async (request) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          return userFromQuery(request);
        },
      });
      const clients = await Promise.all(
        Array.from({ length: 5 }, () => open(`${app.wsUrl}?user=carol`)),
      );
      const codes = await Promise.all(clients.map(outcome));
      expect(codes.filter((code) => code === 0)).toHaveLength(2);
      expect(codes.filter((code) => code === 4001)).toHaveLength(3);
      expect(app.hub.connections.countByUser('carol')).toBe(2);
    });
  });

  describe('rooms.maxPerConnection', () => {
    it('refuses one room too many with ROOM_LIMIT_REACHED; after a leave, joining works', async () => {
      const app = await start({ rooms: { maxPerConnection: 2 } });
      const client = await connect(app.wsUrl);
      expect((await client.request('rt:join', { room: 'a' })).error).toBeUndefined();
      expect((await client.request('rt:join', { room: 'b' })).error).toBeUndefined();

      const refused = await client.request('rt:join', { room: 'c' });
      expect(refused).toEqual({
        event: 'rt:reply',
        id: 3,
        error: { code: 'ROOM_LIMIT_REACHED', message: expect.any(String) },
      });
      // Joining a room it is already in is harmless, even at the limit.
      expect((await client.request('rt:join', { room: 'a' })).data).toMatchObject({
        name: 'a',
        size: 1,
      });
      expect(await app.hub.roomInfo('c')).toBeUndefined();

      expect((await client.request('rt:leave', { room: 'a' })).data).toEqual({
        room: 'a',
        left: true,
      });
      const joined = await client.request('rt:join', { room: 'c' });
      expect(joined.error).toBeUndefined();
      expect(joined.data).toMatchObject({ name: 'c', size: 1, persistent: false });
    });
  });

  describe('websocket.maxPayload', () => {
    it('closes a connection that sends a larger frame with 1009 and keeps serving others', async () => {
      const app = await start({ websocket: { maxPayload: 1024 } });
      const hub = app.hub;
      const other = await connect(app.wsUrl);
      const big = await connect(app.wsUrl);
      await big.request('rt:join', { room: 'r' });

      // A frame of exactly maxPayload bytes is accepted (extra fields are ignored).
      const base = { event: 'rt:join', data: { room: 'r' }, id: 99, pad: '' };
      const atLimit = JSON.stringify({
        ...base,
        pad: 'x'.repeat(1024 - JSON.stringify(base).length),
      });
      expect(Buffer.byteLength(atLimit)).toBe(1024);
      big.send(atLimit);
      expect((await big.next((f) => f.id === 99)).data).toMatchObject({ name: 'r', size: 1 });

      const empty = JSON.stringify({ event: 'chat', data: '' });
      const frame = JSON.stringify({ event: 'chat', data: 'x'.repeat(2000 - empty.length) });
      expect(Buffer.byteLength(frame)).toBe(2000);
      big.send(frame);
      expect(await big.closed).toBe(1009);

      await vi.waitFor(() => expect(hub.connections.count()).toBe(1));
      expect(await hub.roomMembers('r')).toEqual([]);
      expect((await other.request('rt:join', { room: 'r' })).data).toMatchObject({ size: 1 });
      const late = await connect(app.wsUrl);
      expect((await late.request('rt:join', { room: 'r' })).data).toMatchObject({ size: 2 });
    });
  });

  describe('websocket.perMessageDeflate', () => {
    const text = 'compress me '.repeat(2000);

    async function roundTrip(client: TestClient): Promise<void> {
      await client.request('rt:join', { room: 'z' });
      const reply = await client.request('rt:publish', {
        room: 'z',
        event: 'blob',
        data: { text },
        echo: true,
      });
      expect(reply.error).toBeUndefined();
      expect(await client.next((f) => f.event === 'blob')).toEqual(
        inRoom({ event: 'blob', data: { text }, room: 'z' }, 1),
      );
    }

    it('true: the client negotiates permessage-deflate and frames round-trip', async () => {
      const app = await start({ websocket: { perMessageDeflate: true } });
      const client = await connect(app.wsUrl); // ws clients offer the extension by default
      expect(client.socket.extensions).toContain('permessage-deflate');
      await roundTrip(client);
    });

    it('false (the default): the extension is not negotiated even when offered', async () => {
      const app = await start({ websocket: { perMessageDeflate: false } });
      const client = await connect(app.wsUrl, { perMessageDeflate: true });
      expect(client.socket.extensions).toBe('');
      await roundTrip(client);

      const app2 = await start({});
      const client2 = await connect(app2.wsUrl, { perMessageDeflate: true });
      expect(client2.socket.extensions).toBe('');
    });
  });
});
