import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { RealtimeConnection } from '../core/realtime-connection.js';

/**
 * The principal of the connection a frame came from, as `authenticate` returned it;
 * with an argument, one of its claims.
 *
 * @example
 * ```ts
 * @SubscribeMessage('whoami')
 * whoami(@CurrentUser() user: RealtimePrincipal, @CurrentUser('userId') id: string) {
 *   return { id, roles: user.roles };
 * }
 * ```
 */
export const CurrentUser = createParamDecorator(
  (claim: string | undefined, context: ExecutionContext) => {
    const { principal } = context.switchToWs().getClient<RealtimeConnection>();
    return claim === undefined ? principal : principal[claim];
  },
);
