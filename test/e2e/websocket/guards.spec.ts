// Nest guards on a user's gateway, with the principal from the handshake: the guard
// reads it from the connection, and a refusal reaches the client as an error reply.
import { Injectable, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { describe, expect, it } from 'vitest';
import type { RealtimeConnection } from '../../../lib/index.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { queryParam, withHarness } from '../../support/fixtures.js';

/** Lets in connections whose principal has the `admin` role. */
@Injectable()
class AdminGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToWs().getClient<RealtimeConnection>().principal.role === 'admin';
  }
}

/** Refuses with a code of the app's own. */
@Injectable()
class NoGuestsGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const { principal } = context.switchToWs().getClient<RealtimeConnection>();
    if (principal.role === 'guest') {
      throw new WsException({ code: 'GUESTS_MAY_NOT', message: 'sign in first' });
    }
    return true;
  }
}

@WebSocketGateway()
class AdminGateway {
  @UseGuards(AdminGuard)
  @SubscribeMessage('purge')
  purge() {
    return { purged: true };
  }

  @UseGuards(NoGuestsGuard)
  @SubscribeMessage('post')
  post() {
    return { posted: true };
  }
}

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('guards on gateways', () => {
    const harness = withHarness();

    it("see the handshake's principal, and refuse with an error reply", async () => {
      const app = await harness.start(
        {
          authenticate: (request) => ({
            userId: queryParam(request, 'user') ?? undefined,
            role: queryParam(request, 'role'),
          }),
        },
        { providers: [AdminGateway, AdminGuard, NoGuestsGuard] },
      );
      const admin = await harness.connect(`${app.wsUrl}?user=ada&role=admin`);
      const user = await harness.connect(`${app.wsUrl}?user=bob&role=user`);
      const guest = await harness.connect(`${app.wsUrl}?user=gil&role=guest`);
      expect((await admin.request('purge')).data).toEqual({ purged: true });
      expect((await user.request('purge')).error).toEqual({
        code: 'HANDLER_ERROR',
        message: 'Forbidden resource',
      });
      expect((await user.request('post')).data).toEqual({ posted: true });
      expect((await guest.request('post')).error).toMatchObject({
        code: 'GUESTS_MAY_NOT',
        message: 'sign in first',
      });
    });
  });
});
