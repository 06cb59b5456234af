import type { Metadata } from '@grpc/grpc-js';
import { Controller, Inject } from '@nestjs/common';
import { GrpcStreamMethod } from '@nestjs/microservices';
import { Observable, concatMap, map, tap, toArray } from 'rxjs';
import { toErrorBody } from '../../core/error-body.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { ErrorCode, RealtimeError } from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { MAX_WAITING, REALTIME_SERVICE, type PublishRequest } from './grpc-messages.js';
import { publishOne } from './grpc-publish.js';
import { rpcException } from './grpc-errors.js';
import { authenticateRpc } from './grpc-support.js';

/**
 * The client-streaming call of realtime.v1.Realtime (docs/grpc.md): PublishStream,
 * a stream of messages answered with one summary once the client ends it.
 */
@Controller()
export class RealtimeGrpcClientStreamController {
  constructor(
    private readonly hub: RealtimeHub,
    @Inject(REALTIME_OPTIONS) private readonly realtime: ResolvedRealtimeOptions,
  ) {}

  @GrpcStreamMethod(REALTIME_SERVICE, 'PublishStream')
  publishStream(messages: Observable<PublishRequest>, metadata: Metadata) {
    // Subscribed at once (the messages may come before the authentication ends), and
    // handled one after the other; at most MAX_WAITING wait for their turn.
    const principal = authenticateRpc(this.realtime.authenticate, metadata, 'PublishStream');
    principal.catch(() => undefined); // the first message's turn reports it
    let waiting = 0;
    return messages.pipe(
      tap(() => {
        if (++waiting > MAX_WAITING) {
          throw rpcException(
            new RealtimeError(
              ErrorCode.TooManyRequests,
              `more than ${MAX_WAITING} messages waiting`,
            ),
          );
        }
      }),
      concatMap(async (request, index) => {
        const caller = await principal;
        try {
          return {
            published: await publishOne(this.hub, this.realtime.authorize, caller, request),
          };
        } catch (error) {
          // Made of the error itself, its code and message (unexpected ones: INTERNAL_ERROR).
          const { code, message } = toErrorBody(error);
          return { rejected: { index, code, message } };
        } finally {
          waiting--;
        }
      }),
      toArray(),
      // An empty stream still needs the caller authenticated.
      concatMap(async (outcomes) => (await principal, outcomes)),
      map((outcomes) => {
        const published = outcomes.flatMap((o) => ('published' in o ? [o.published!] : []));
        const rejected = outcomes.flatMap((o) => ('rejected' in o ? [o.rejected!] : []));
        return { count: published.length, published, rejected };
      }),
    );
  }
}
