// Hub calls that reach other nodes' connections: two apps on one engine store.
import { describe, expect, it } from 'vitest';
import { RealtimeClientError } from '../../../lib/client/index.js';
import { roomPresenceChannel } from '../../../lib/core/channels.js';
import {
  DeliveryService,
  RpcError,
  RpcService,
  type RealtimeModuleOptions,
  type Undeliverable,
} from '../../../lib/index.js';
import { libraryClient } from '../../support/client.js';
import { expectAlive, join, until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { openStream } from '../../support/sse-client.js';

describe('hub calls across nodes', () => {
  const harness = withHarness();
  let cluster = 0;
  const nodes = async () => {
    const options: RealtimeModuleOptions = {
      authenticate: userFromQuery,
      engine: { type: 'memory', shared: `cross-${process.pid}-${++cluster}` },
      history: { maxCount: 10 },
    };
    return [await harness.start(options), await harness.start(options)] as const;
  };

  it('disconnect(id) closes a connection of another node with 4500', async () => {
    const [a, b] = await nodes();
    const client = await harness.connect(`${a.wsUrl}?user=u1`);
    b.hub.disconnect(client.connectionId, 'kicked elsewhere');
    expect(await client.closed).toBe(4500);
    await until(() => a.hub.connections.count() === 0);
  });

  it("disconnectUser closes the user's connections on every node", async () => {
    const [a, b] = await nodes();
    const onA = await harness.connect(`${a.wsUrl}?user=mallory`);
    const onB = await harness.connect(`${b.wsUrl}?user=mallory`);
    const other = await harness.connect(`${a.wsUrl}?user=trent`);
    b.hub.disconnectUser('mallory');
    expect(await Promise.all([onA.closed, onB.closed])).toEqual([4500, 4500]);
    await expectAlive(other);
  });

  it("deleteRoom makes the room's members on every node leave it", async () => {
    const [a, b] = await nodes();
    const onA = await harness.connect(`${a.wsUrl}?user=u1`);
    const onB = await harness.connect(`${b.wsUrl}?user=u2`);
    await join(onA, 'doomed');
    await join(onB, 'doomed');
    expect(await b.hub.roomInfo('doomed')).toMatchObject({ size: 2 });
    expect(await b.hub.deleteRoom('doomed')).toBe(true);
    await until(() => a.hub.connectionRooms(onA.connectionId).length === 0);
    expect(await a.hub.roomInfo('doomed')).toBeUndefined();
    // A message to the room reaches neither.
    await a.hub.to('doomed').emit('late', 1);
    expect(await onA.collect((f) => f.event === 'late')).toEqual([]);
    expect(await onB.collect((f) => f.event === 'late')).toEqual([]);
  });

  it('deleteRoom leaves no room presence subscription behind on the other nodes', async () => {
    const [a, b] = await nodes();
    const onA = await harness.connect(`${a.wsUrl}?user=u1`);
    const reply = await onA.request('rt:join', { room: 'doomed', presence: true });
    expect(reply.error).toBeUndefined();
    // The follower, and the node's list of the room's members (RoomFollowers).
    expect(a.hub.connections.subscriberCount(roomPresenceChannel('doomed'))).toBe(2);
    await b.hub.deleteRoom('doomed');
    await until(() => a.hub.connectionRooms(onA.connectionId).length === 0);
    await until(() => a.hub.connections.subscribers(roomPresenceChannel('doomed')) === undefined);
  });

  it('join(id) and leave(id) put a connection of another node in a room and take it out', async () => {
    const [a, b] = await nodes();
    const onA = await harness.connect(`${a.wsUrl}?user=u1`);
    await b.hub.to('news').emit('before', 0);
    const joined = await b.hub.join(onA.connectionId, 'news', { latest: 5 });
    expect(joined).toMatchObject({ name: 'news', size: 1, offset: 1 });
    // The kept message came first (latest), then live ones.
    expect((await onA.next((f) => f.event === 'before')).data).toBe(0);
    expect(a.hub.connectionRooms(onA.connectionId)).toEqual(['news']);
    await b.hub.to('news').emit('live', 1);
    expect((await onA.next((f) => f.event === 'live')).data).toBe(1);
    expect(await b.hub.leave(onA.connectionId, 'news')).toBe(true);
    expect(await b.hub.leave(onA.connectionId, 'news')).toBe(false);
    expect(a.hub.connectionRooms(onA.connectionId)).toEqual([]);
    await b.hub.to('news').emit('live', 2);
    expect(await onA.collect((f) => f.event === 'live')).toEqual([]);
  });

  it("join(id) of another node's connection fails with that node's error, of the same class and code", async () => {
    const [a, b] = await nodes();
    const onA = await harness.connect(`${a.wsUrl}?user=u1`);
    await expect(b.hub.join(onA.connectionId, '')).rejects.toMatchObject({
      name: 'RealtimeError',
      code: 'ROOM_NAME_INVALID',
    });
    // An id of node A that is not open there.
    const gone = `${a.hub.nodeId}.999999`;
    await expect(b.hub.join(gone, 'news')).rejects.toMatchObject({ code: 'INVALID_DATA' });
    await expect(b.hub.leave(gone, 'news')).rejects.toMatchObject({ code: 'INVALID_DATA' });
    await expectAlive(onA);
  });

  it('RpcService.call(id) calls a client of another node, with its answers and errors', async () => {
    const [a, b] = await nodes();
    const alice = libraryClient(harness, a, 'alice');
    alice.answer('confirm', (params) => ({ ok: true, asked: params }));
    alice.answer('refuse', () => {
      throw new RealtimeClientError('NOPE', 'not today');
    });
    alice.answer('slow', () => new Promise(() => undefined));
    const { connectionId } = await alice.ready;
    const rpc = b.app.get(RpcService);
    await expect(rpc.call(connectionId, 'confirm', { text: 'sure?' })).resolves.toEqual({
      ok: true,
      asked: { text: 'sure?' },
    });
    const refused = await rpc.call(connectionId, 'refuse').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RpcError);
    expect(refused).toMatchObject({ code: 'NOPE', message: 'not today' });
    await expect(rpc.call(connectionId, 'slow', undefined, { timeout: 100 })).rejects.toMatchObject(
      { code: 'RPC_TIMEOUT' },
    );
  });

  it('a call to a connection of a node that is gone fails with NODE_UNAVAILABLE', async () => {
    const [a, b] = await nodes();
    const onA = await harness.connect(`${a.wsUrl}?user=u1`);
    const id = onA.connectionId;
    harness.forget(a);
    await a.close();
    const started = Date.now();
    await expect(b.app.get(RpcService).call(id, 'any', {}, { timeout: 100 })).rejects.toMatchObject(
      { code: 'NODE_UNAVAILABLE' },
    );
    // The call's own timeout plus the margin for a node that does not answer.
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("acknowledged delivery to a user reaches the user's connections on another node, and their ack comes back", async () => {
    const [a, b] = await nodes();
    const failed: Undeliverable[] = [];
    const delivery = b.app.get(DeliveryService);
    delivery.onUndeliverable((u) => failed.push(u));
    const bob = libraryClient(harness, a, 'bob');
    const got: unknown[] = [];
    bob.on('invoice', (data) => got.push(data));
    await bob.ready;
    await delivery.send({ userId: 'bob' }, 'invoice', { total: 42 }, { maxAttempts: 3 });
    await until(() => got.length === 1);
    // Acknowledged on node A, known on node B: it is not sent again, nor given up on.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(got).toEqual([{ total: 42 }]);
    expect(failed).toEqual([]);
  });

  it('a message for a user offline everywhere waits, and goes out when the user connects to another node', async () => {
    const [a, b] = await nodes();
    const delivery = b.app.get(DeliveryService);
    await delivery.send({ userId: 'carl' }, 'hello', 'waited', { ttl: 60_000, maxAttempts: 1 });
    const carl = libraryClient(harness, a, 'carl');
    const got: unknown[] = [];
    carl.on('hello', (data) => got.push(data));
    const started = Date.now();
    await until(() => got.length === 1, 5_000);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(got).toEqual(['waited']);
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('regressions', () => {
  describe('cross-node link and delivery (two nodes on one shared memory store)', () => {
    const harness = withHarness();
    let cluster = 0;
    const nodes = async () => {
      const options: RealtimeModuleOptions = {
        authenticate: userFromQuery,
        engine: { type: 'memory', shared: `review-${process.pid}-${++cluster}` },
      };
      return [await harness.start(options), await harness.start(options)] as const;
    };

    it('a waiting message reaches a user who comes back on another node within presence.offlineDelay', async () => {
      const [a, b] = await nodes();
      // Erin was on node A and left: presence keeps her record, with no connection, for
      // offlineDelay (5 s by default), so her coming back is not "online" news.
      const first = await harness.connect(`${a.wsUrl}?user=erin`);
      await first.close();
      await until(async () => a.hub.connections.count() === 0);
      const delivery = b.app.get(DeliveryService);
      const failed: Undeliverable[] = [];
      delivery.onUndeliverable((u) => failed.push(u));
      await delivery.send({ userId: 'erin' }, 'hello', 'waited', { ttl: 4_000 });
      await sleep(100); // node B found nobody and waits
      const erin = libraryClient(harness, a, 'erin');
      const got: unknown[] = [];
      erin.on('hello', (data) => got.push(data));
      await erin.ready;
      // She is connected (on node A) for the whole time to live: the message must reach her.
      await until(() => got.length === 1 || failed.length > 0, 4_500);
      expect(failed).toEqual([]);
      expect(got).toEqual(['waited']);
    }, 10_000);

    it('an SSE stream on another node is not counted as a recipient that can acknowledge', async () => {
      const options: RealtimeModuleOptions = {
        authenticate: userFromQuery,
        engine: { type: 'memory', shared: `review-${process.pid}-${++cluster}` },
        delivery: { ackTimeout: 100 },
      };
      const a = await harness.start(options);
      const b = await harness.start(options);
      await openStream(harness, a, 'user=sam&room=news');
      await until(() => a.hub.connections.count() === 1);
      const delivery = b.app.get(DeliveryService);
      const failed: Undeliverable[] = [];
      delivery.onUndeliverable((u) => failed.push(u));
      await delivery.send({ userId: 'sam' }, 'hello', 'for a socket', {
        ttl: 10_000,
        maxAttempts: 2,
      });
      // Node B counts the stream as a recipient: it sends twice to nobody that can
      // acknowledge, and gives up ("attempts") instead of waiting for a connection.
      await sleep(800);
      const sam = libraryClient(harness, a, 'sam');
      const got: unknown[] = [];
      sam.on('hello', (data) => got.push(data));
      await sam.ready;
      await until(() => got.length === 1 || failed.length > 0, 3_000);
      expect(failed).toEqual([]);
      expect(got).toEqual(['for a socket']);
    }, 10_000);

    it("RpcService.call(id) of another node's connection with params that are not JSON fails with INVALID_DATA, as a local call does", async () => {
      const [a, b] = await nodes();
      const alice = libraryClient(harness, a, 'alice');
      alice.answer('echo', (params) => params);
      const { connectionId } = await alice.ready;
      const params = { n: 1n };
      // The same call on the connection's own node:
      await expect(a.app.get(RpcService).call(connectionId, 'echo', params)).rejects.toMatchObject({
        name: 'RealtimeError',
        code: 'INVALID_DATA',
      });
      // Through node B: a TypeError from JSON.stringify instead.
      await expect(b.app.get(RpcService).call(connectionId, 'echo', params)).rejects.toMatchObject({
        name: 'RealtimeError',
        code: 'INVALID_DATA',
      });
    });
  });
});
