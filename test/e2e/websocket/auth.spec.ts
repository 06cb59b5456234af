import { ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { ConnectedSocket, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { WebSocket } from 'ws';
import {
  CurrentUser,
  RealtimeHub,
  type RealtimePrincipal,
  type WsConnection,
} from '../../../lib/index.js';
import { queryParam, withHarness } from '../../support/fixtures.js';
import type { Frame } from '../../support/ws-client.js';

// -- helpers (local to this file) ----------------------------------------------

const { start, connect, open, handshake } = withHarness();

/** Opens a socket and resolves with its first frame. */
async function firstFrame(url: string): Promise<Frame> {
  return (await open(url)).next();
}

// -- gateway --------------------------------------------------------------------

@WebSocketGateway()
class WhoAmIGateway {
  @SubscribeMessage('whoami')
  whoami(
    @CurrentUser() user: RealtimePrincipal,
    @CurrentUser('role') role: unknown,
    @ConnectedSocket() client: WsConnection,
  ) {
    return { user, role, principal: client.principal, userId: client.userId ?? null };
  }
}

// -- tests ----------------------------------------------------------------------

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('authenticate', () => {
    it('refuses with HTTP 401 when the hook returns null, and the socket never opens', async () => {
      let calls = 0;
      const app = await start({
        authenticate: () => {
          calls++;
          return null;
        },
      });
      const result = await handshake(app.wsUrl);
      expect(result.status).toBe(401);
      await sleep(100);
      expect(result.opened).toBe(false);
      expect(result.socket.readyState).not.toBe(WebSocket.OPEN);
      expect(calls).toBe(1);
      expect(app.app.get(RealtimeHub).connections.count()).toBe(0);
    });

    it('refuses with HTTP 401 when the hook returns undefined or false', async () => {
      let answer: undefined | false = undefined;
      const app = await start({ authenticate: () => answer });
      expect((await handshake(app.wsUrl)).status).toBe(401);
      answer = false;
      expect((await handshake(app.wsUrl)).status).toBe(401);
    });

    it('refuses with HTTP 403 and the exception message when the hook throws ForbiddenException', async () => {
      const app = await start({
        authenticate: () => {
          throw new ForbiddenException();
        },
      });
      const result = await handshake(app.wsUrl);
      expect(result.status).toBe(403);
      expect(result.body).toBe('Forbidden');
      expect(result.opened).toBe(false);
    });

    it('uses the status and message of any 4xx HttpException the hook throws', async () => {
      const app = await start({
        authenticate: () => {
          throw new UnauthorizedException('token expired');
        },
      });
      const result = await handshake(app.wsUrl);
      expect(result.status).toBe(401);
      expect(result.body).toBe('token expired');
    });

    it('refuses with HTTP 500 when the hook throws a plain Error', async () => {
      const app = await start({
        authenticate: () => {
          throw new Error('database down');
        },
      });
      const result = await handshake(app.wsUrl);
      expect(result.status).toBe(500);
      // The internal error must not leak to the client.
      expect(result.body).not.toContain('database down');
      expect(result.opened).toBe(false);
    });

    it('refuses with HTTP 500 when the hook returns a non-string userId', async () => {
      const app = await start({ authenticate: () => ({ userId: 42 }) as never });
      const result = await handshake(app.wsUrl);
      expect(result.status).toBe(500);
      expect(result.opened).toBe(false);
      expect(app.app.get(RealtimeHub).connections.count()).toBe(0);
    });

    it('refuses with HTTP 500 when the hook returns an empty userId', async () => {
      const app = await start({ authenticate: () => ({ userId: '' }) });
      expect((await handshake(app.wsUrl)).status).toBe(500);
    });

    it('accepts through an async hook; rt:connected carries the userId', async () => {
      const app = await start({
        authenticate: async (request) => {
          await sleep(20);
          const token = queryParam(request, 'token');
          return token === 'secret' ? { userId: 'u1' } : null;
        },
      });
      expect((await handshake(`${app.wsUrl}?token=wrong`)).status).toBe(401);
      const raw = await firstFrame(`${app.wsUrl}?token=secret`);
      expect(raw).toEqual({
        event: 'rt:connected',
        data: {
          connectionId: expect.any(String),
          userId: 'u1',
          pingInterval: 25_000,
          pongTimeout: 10_000,
        },
      });
      expect(app.app.get(RealtimeHub).connections.countByUser('u1')).toBe(1);
    });

    it('makes every connection anonymous without a hook: userId is null', async () => {
      const app = await start({});
      const frame = await firstFrame(app.wsUrl);
      expect(frame).toEqual({
        event: 'rt:connected',
        data: {
          connectionId: expect.any(String),
          userId: null,
          pingInterval: 25_000,
          pongTimeout: 10_000,
        },
      });
    });

    it('exposes the principal to handlers via @CurrentUser(), @CurrentUser(claim) and client.principal', async () => {
      const app = await start(
        { authenticate: () => ({ userId: 'u7', role: 'admin', tenant: 't1' }) },
        { providers: [WhoAmIGateway] },
      );
      const client = await connect(app.wsUrl);
      const reply = await client.request('whoami');
      const principal = { userId: 'u7', role: 'admin', tenant: 't1' };
      expect(reply).toEqual({
        event: 'rt:reply',
        id: 1,
        data: { user: principal, role: 'admin', principal, userId: 'u7' },
      });
    });

    it('gives handlers an empty principal for an anonymous connection', async () => {
      const app = await start({}, { providers: [WhoAmIGateway] });
      const client = await connect(app.wsUrl);
      const reply = await client.request('whoami');
      expect(reply.data).toEqual({ user: {}, principal: {}, userId: null });
    });
  });
});
