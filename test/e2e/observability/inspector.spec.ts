// The inspector's API across two nodes: snapshots gathered from both, rooms through the
// engine, a room's tail, the actions; its own guard, and bad input.
import { once } from 'node:events';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { CloseCode, RealtimeConfigError, type RealtimeModuleOptions } from '../../../lib/index.js';
import { PLATFORMS, startApp, usePlatform, type TestApp } from '../../support/app.js';
import { join, userFromQuery, withHarness } from '../../support/fixtures.js';
import { redisAvailable, redisForSuite } from '../../support/redis.js';
import { eventIs } from '../../support/ws-client.js';

const TOKEN = 'let-me-in';
const allowed = (request: IncomingMessage) => request.headers['x-inspector'] === TOKEN;
const HEADERS = { 'x-inspector': TOKEN, 'content-type': 'application/json' };

const url = (app: TestApp, path: string) =>
  `http://127.0.0.1:${app.port}/realtime/inspector${path}`;

const get = async (app: TestApp, path: string) => {
  const response = await fetch(url(app, path), { headers: HEADERS });
  return { status: response.status, body: (await response.json()) as any };
};
const post = async (app: TestApp, path: string, body: unknown) => {
  const response = await fetch(url(app, path), {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
};

/** The engines the two nodes share: a memory store, and Redis where redis-server is. */
const ENGINES = ['memory', ...(redisAvailable() ? ['redis'] : [])] as const;

describe.each(PLATFORMS)('the inspector over %s', (platform) => {
  usePlatform(platform);
  const harness = withHarness();
  const redis = redisForSuite(ENGINES.includes('redis' as never));

  let cluster = 0;
  async function nodes(engine: (typeof ENGINES)[number]): Promise<[TestApp, TestApp]> {
    const name = `inspector-${process.pid}-${++cluster}`;
    const options: RealtimeModuleOptions = {
      authenticate: userFromQuery,
      history: { maxCount: 50 },
      engine:
        engine === 'redis'
          ? { type: 'redis', url: redis().url, prefix: `${name}:` }
          : { type: 'memory', shared: name },
      inspector: { authorize: allowed },
    };
    return [await harness.start(options), await harness.start(options)];
  }

  /** A tail read over a connection of its own (fetch's pool may keep a spare one open). */
  const openTail = (app: TestApp, room: string) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      const request = httpGet(
        url(app, `/api/tail?room=${room}`),
        { headers: HEADERS, agent: false },
        resolve,
      );
      request.on('error', reject);
      harness.defer(() => request.destroy());
    });

  describe.each(ENGINES)('two nodes on %s', (engine) => {
    it('lists both nodes, their connections, rooms and users; a room through the engine', async () => {
      const [a, b] = await nodes(engine);
      const alice = await harness.connect(`${a.wsUrl}?user=alice`);
      const bob = await harness.connect(`${b.wsUrl}?user=bob`);
      await join(alice, 'lobby');
      await join(bob, 'lobby');
      await alice.request('rt:publish', { room: 'lobby', event: 'chat', data: 1 });

      const { status, body } = await get(a, '/api/snapshot');
      expect(status).toBe(200);
      expect(body.self).toBe(a.hub.nodeId);
      expect(body.nodes.map((node: any) => node.node.id).toSorted()).toEqual(
        [a.hub.nodeId, b.hub.nodeId].toSorted(),
      );
      const connections = body.nodes.flatMap((node: any) => node.connections);
      expect(connections).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            id: alice.connectionId,
            node: a.hub.nodeId,
            userId: 'alice',
            transport: 'websocket',
            rooms: ['lobby'],
          }),
          expect.objectContaining({ id: bob.connectionId, node: b.hub.nodeId, userId: 'bob' }),
        ]),
      );
      for (const node of body.nodes) {
        expect(node.rooms).toEqual([{ name: 'lobby', members: 1 }]);
        expect(node.node).toMatchObject({ connections: 1, engineAvailable: true });
      }
      // Filtered: only bob's connection matches.
      const filtered = await get(a, '/api/snapshot?q=bob');
      expect(filtered.body.nodes.flatMap((node: any) => node.connections)).toEqual([
        expect.objectContaining({ userId: 'bob' }),
      ]);

      const room = await get(b, '/api/room?name=lobby');
      expect(room.status).toBe(200);
      expect(room.body).toMatchObject({ name: 'lobby', memberCount: 2, stream: { kept: 1 } });
      expect(room.body.members.map((member: any) => member.nodeId).toSorted()).toEqual(
        [a.hub.nodeId, b.hub.nodeId].toSorted(),
      );
      expect(room.body.users.map((user: any) => user.presence.status).toSorted()).toEqual([
        'online',
        'online',
      ]);
    });

    it('tails a room published to from the other node, and acts: publish, disconnect, delete', async () => {
      const [a, b] = await nodes(engine);
      const bob = await harness.connect(`${b.wsUrl}?user=bob`);
      await join(bob, 'lobby');
      const carol = await harness.connect(`${b.wsUrl}?user=carol`);
      await join(carol, 'lobby');

      // The tail is served by node A; the message is published on node B.
      const tail = await openTail(a, 'lobby');
      expect(tail.statusCode).toBe(200);
      expect(tail.headers['content-type']).toContain('text/event-stream');
      tail.setEncoding('utf8');
      let text = '';
      const read = async (marker: string) => {
        while (!text.includes(marker)) text += (await once(tail, 'data'))[0] as string;
      };
      await read('event: ready');
      await b.hub.to('lobby').emit('chat', { hello: 'world' });
      await read('event: message');
      const message = JSON.parse(/event: message\ndata: (.*)\n/.exec(text)![1]!);
      expect(message).toMatchObject({ event: 'chat', offset: 1, truncated: false });
      expect(JSON.parse(message.text)).toMatchObject({ data: { hello: 'world' } });

      // A test message, from node A's page, reaches the members on node B.
      const published = await post(a, '/api/publish', { room: 'lobby', event: 'ping', data: 1 });
      expect(published).toMatchObject({ status: 200, body: { offset: 2 } });
      await bob.next(eventIs('ping'));

      // Disconnect a connection of the other node by id, and a user.
      expect(await post(a, '/api/disconnect', { connectionId: bob.connectionId })).toMatchObject({
        status: 200,
        body: { ok: true },
      });
      expect(await bob.closed).toBe(CloseCode.Disconnected);
      await post(a, '/api/disconnect', { userId: 'carol' });
      expect(await carol.closed).toBe(CloseCode.Disconnected);

      await b.hub.createRoom('doomed');
      expect(await post(a, '/api/rooms/delete', { room: 'doomed' })).toMatchObject({
        status: 200,
        body: { deleted: true },
      });
      expect(await b.hub.roomInfo('doomed')).toBeUndefined();
      // Regression: the room being tailed here (a watcher of its channel, no member) can go too.
      await b.hub.createRoom('lobby'); // its members left: it stays only as a room made to stay
      expect(await post(a, '/api/rooms/delete', { room: 'lobby' })).toMatchObject({
        status: 200,
        body: { deleted: true },
      });
    });
  });

  describe('refusals', () => {
    it('without its own guard every route is 403, before anything is read', async () => {
      const app = await harness.start({ inspector: { authorize: allowed } });
      for (const path of ['', '/api/snapshot', '/api/room?name=x', '/api/tail?room=x']) {
        const response = await fetch(url(app, path));
        expect(response.status).toBe(403);
        expect(await response.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
      }
      const response = await fetch(url(app, '/api/disconnect'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'x' }),
      });
      expect(response.status).toBe(403);
    });

    it('a guard that throws or answers anything but true refuses too', async () => {
      const app = await harness.start({
        inspector: {
          authorize: (request) => {
            if (request.headers['x-inspector'] === 'throw') throw new Error('guard failed');
            return 'yes' as unknown as boolean;
          },
        },
      });
      expect((await fetch(url(app, '/api/snapshot'))).status).toBe(403);
      const thrown = await fetch(url(app, '/api/snapshot'), {
        headers: { 'x-inspector': 'throw' },
      });
      expect(thrown.status).toBe(500);
    });

    it('is not served at all unless asked for', async () => {
      const app = await harness.start({});
      expect((await fetch(url(app, ''), { headers: HEADERS })).status).toBe(404);
    });

    it('needs a guard of its own to start', async () => {
      await expect(startApp({ inspector: {} as never }, {}, { logger: false })).rejects.toThrow(
        RealtimeConfigError,
      );
      await expect(
        startApp({ inspector: { authorize: true } as never }, {}, { logger: false }),
      ).rejects.toThrow('inspector.authorize');
    });

    it('answers bad input with 400 and the code', async () => {
      const app = await harness.start({ inspector: { authorize: allowed } });
      expect(await post(app, '/api/disconnect', {})).toMatchObject({
        status: 400,
        body: { error: { code: 'INVALID_DATA' } },
      });
      expect(await post(app, '/api/disconnect', { userId: 'a', connectionId: 'b' })).toMatchObject({
        status: 400,
      });
      expect(await post(app, '/api/disconnect', ['x'])).toMatchObject({
        status: 400,
        body: { error: { code: 'INVALID_DATA' } },
      });
      expect(await get(app, '/api/room?name=')).toMatchObject({
        status: 400,
        body: { error: { code: 'ROOM_NAME_INVALID' } },
      });
      expect(await get(app, '/api/room')).toMatchObject({ status: 400 });
      expect(
        await post(app, '/api/publish', { room: 'lobby', event: 'rt:join', data: 1 }),
      ).toMatchObject({ status: 400 });
      expect(await post(app, '/api/publish', { room: 'lobby', event: 3 })).toMatchObject({
        status: 400,
        body: { error: { code: 'INVALID_DATA' } },
      });
      expect(await post(app, '/api/rooms/delete', { room: 7 })).toMatchObject({ status: 400 });
      const tail = await fetch(url(app, '/api/tail?room='), { headers: HEADERS });
      expect(tail.status).toBe(400);
    });
  });
});
