// authorize.canJoin / canPublish over the WebSocket protocol (the SSE endpoint's
// refusals are in sse.spec.ts): who may join and publish where.
import { describe, expect, it, vi } from 'vitest';
import { resolveRealtimeOptions } from '../../../lib/index.js';
import {
  appForAllTests,
  errorReply,
  join,
  recordUncaught,
  userFromQuery,
} from '../../support/fixtures.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { eventIs } from '../../support/ws-client.js';

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('authorize hooks over WebSocket', () => {
    const canJoin = vi.fn<(principal: { userId?: string }, room: string) => boolean>(
      (principal, room) => {
        if (room === 'broken') throw new Error('hook bug');
        return !room.startsWith('staff:') || principal.userId === 'boss';
      },
    );
    type CanPublish = (
      principal: unknown,
      room: string,
      message: { event: string },
    ) => Promise<boolean>;
    const canPublish = vi.fn<CanPublish>(
      async (_principal, room, message) => !(room === 'news' && message.event === 'announcement'),
    );
    const rt = appForAllTests({ authenticate: userFromQuery, authorize: { canJoin, canPublish } });

    it('refuses a join the hook refuses with FORBIDDEN, and the connection stays out of the room', async () => {
      const worker = await rt.connect('worker');
      const reply = await worker.request('rt:join', { room: 'staff:1' });
      expect(reply).toEqual(errorReply(reply.id!, 'FORBIDDEN'));
      expect(reply.error!.message).toBe('not allowed to join "staff:1"');
      expect(await rt.hub.roomMembers('staff:1')).toEqual([]);
      expect(canJoin).toHaveBeenCalledWith(
        expect.objectContaining({ userId: 'worker' }),
        'staff:1',
      );
      const boss = await rt.connect('boss');
      await join(boss, 'staff:1');
    });

    it('answers INTERNAL_ERROR when the hook throws, and goes on', async () => {
      const uncaught = recordUncaught(rt.harness);
      const client = await rt.connect('u1');
      const reply = await client.request('rt:join', { room: 'broken' });
      expect(reply).toEqual(errorReply(reply.id!, 'INTERNAL_ERROR'));
      await join(client, 'fine');
      expect(uncaught).toEqual([]);
    });

    it('refuses a publish the hook refuses, and nobody receives it', async () => {
      const a = await rt.connect('a');
      const b = await rt.connect('b');
      for (const client of [a, b]) await join(client, 'news');
      const refused = await a.request('rt:publish', {
        room: 'news',
        event: 'announcement',
        data: 1,
      });
      expect(refused).toEqual(errorReply(refused.id!, 'FORBIDDEN'));
      const allowed = await a.request('rt:publish', { room: 'news', event: 'chat', data: 2 });
      expect(allowed.data).toMatchObject({ room: 'news', offset: 1 });
      expect((await b.next(eventIs('chat'))).data).toBe(2);
      expect(await b.collect(eventIs('announcement'))).toEqual([]);
    });
  });

  describe('sse and authorize options', () => {
    it.each([
      [{ sse: { path: 'events' } }, 'sse.path'],
      [{ sse: { path: '/ws' } }, 'sse.path'],
      [{ sse: { retry: 0 } }, 'sse.retry'],
      [{ sse: { keepAliveInterval: 2 ** 31 } }, 'sse.keepAliveInterval'],
      [{ sse: { maxConnectionsPerUser: 0 } }, 'sse.maxConnectionsPerUser'],
      [{ sse: { maxBufferedBytes: -1 } }, 'sse.maxBufferedBytes'],
      [{ sse: { publish: 'yes' } }, 'sse.publish'],
      [{ sse: { keepalive: 1 } }, 'sse.keepalive'],
      [{ sse: true }, 'sse'],
      [{ authorize: { canJoin: true } }, 'authorize.canJoin'],
      [{ authorize: { canSee: () => true } }, 'authorize.canSee'],
    ])('refuses %j naming %s', (given, option) => {
      expect(() => resolveRealtimeOptions(given as never)).toThrow(`"${option}"`);
    });

    it('has defaults, and turns the endpoint off with sse: false', () => {
      expect(resolveRealtimeOptions().sse).toEqual({
        path: '/realtime/events',
        retry: 3_000,
        keepAliveInterval: 15_000,
        maxConnections: Infinity,
        maxConnectionsPerUser: 20,
        maxBufferedBytes: 4 << 20,
        publish: true,
        maxPayload: 1 << 20,
      });
      expect(resolveRealtimeOptions({ sse: false }).sse).toBe(false);
      expect(resolveRealtimeOptions().authorize).toEqual({});
    });
  });
});
