import type { Metadata } from '@grpc/grpc-js';
import { Controller, Inject } from '@nestjs/common';
import { GrpcStreamMethod } from '@nestjs/microservices';
import { Observable, concatMap, map, tap, toArray } from 'rxjs';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { ErrorCode, RealtimeError } from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { MAX_WAITING, REALTIME_SERVICE, type PublishRequest } from './grpc-messages.js';
import { publishOne } from './grpc-publish.js';
import { authenticateRpc, rpcException, toGrpcError, type GrpcError } from './grpc-support.js';

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
      concatMap(async (message, index) => {
        const caller = await principal;
        try {
          return {
            index,
            published: await publishOne(this.hub, this.realtime.authorize, caller, message),
          };
        } catch (error) {
          return { index, error: toGrpcError(error) };
        } finally {
          waiting--;
        }
      }),
      toArray(),
      // An empty stream still needs the caller authenticated.
      concatMap(async (outcomes) => (await principal, outcomes)),
      map((outcomes) => {
        const published = outcomes.flatMap((o) => ('published' in o ? [o.published!] : []));
        const rejected = outcomes.flatMap((o) =>
          o.error ? [{ index: o.index, ...rejection(o.error) }] : [],
        );
        return { count: published.length, published, rejected };
      }),
    );
  }
}

function rejection(error: GrpcError): { code: string; message: string } {
  const [code, ...rest] = error.details.split(': ');
  return rest.length > 0
    ? { code: code!, message: rest.join(': ') }
    : { code: 'INTERNAL_ERROR', message: error.details };
}
