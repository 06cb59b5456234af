import { ForbiddenException, HttpException, Injectable, type Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { ExternalContextCreator } from '@nestjs/core';
import { ConnectedSocket, MessageBody, WebSocketGateway, WsException } from '@nestjs/websockets';
import { WsParamsFactory } from '@nestjs/websockets/factories/ws-params-factory.js';
import type { RegisteredEvent } from '../../core/events/builtin-event-registry.js';
import { FrameDispatcher } from '../../core/events/frame-dispatcher.js';
import type { RealtimeConnection } from '../../core/realtime-connection.js';
import { RpcError } from '../../core/rpc/rpc-error.js';
import { ErrorCode, RealtimeError, type InboundFrame } from '../../protocol/index.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { exceptionBody } from './exception-body.js';

/**
 * The path the built-in gateway asks the adapter for. It is no URL: it tells
 * {@link RealtimeWsAdapter} that this gateway is the module's own, which it serves
 * without binding it to each connection.
 */
export const BUILTIN_GATEWAY_PATH = 'nest-realtime:builtin-events';

const WS_PARAMS = new WsParamsFactory();

/** A built-in event's handler wrapped in Nest's guards, interceptors and pipes. */
type Pipeline = (client: RealtimeConnection, data: unknown, event: string) => Promise<unknown>;

/**
 * The module's own WebSocket gateway: its handlers are the built-in events
 * (`rt:join`, `rt:publish`, `rt:status`...), and Nest's machinery applies to them as
 * to an app's `@SubscribeMessage` handlers: global guards, interceptors and pipes
 * (`app.useGlobalGuards`, `APP_GUARD`...) see every built-in frame, with the
 * connection as `switchToWs().getClient()`, the frame's data as `getData()` and its
 * event as `getPattern()`. A guard that refuses answers the frame with FORBIDDEN.
 *
 * Nest would bind a `@SubscribeMessage` handler to every connection, which costs
 * about 2.4 KB a connection for the built-in events; here each event's pipeline is
 * made once (with Nest's `ExternalContextCreator`) and serves every connection.
 * `rt:pong`, `rt:ack` and `rt:reply` are the protocol's own bookkeeping and do not
 * pass through it.
 *
 * @example
 * ```ts
 * @Injectable()
 * class NoJoinsAtNight implements CanActivate {
 *   canActivate(context: ExecutionContext) {
 *     const night = new Date().getHours() < 6;
 *     return !(night && context.switchToWs().getPattern() === 'rt:join');
 *   }
 * }
 * // main.ts: app.useGlobalGuards(new NoJoinsAtNight());
 * ```
 */
@Injectable()
export class RealtimeGateway {
  private readonly pipelines = new Map<RegisteredEvent, Pipeline>();

  constructor(
    private readonly contextCreator: ExternalContextCreator,
    dispatcher: FrameDispatcher,
  ) {
    dispatcher.usePipeline('websocket', (connection, event, frame) =>
      this.run(connection, event, frame),
    );
  }

  /**
   * Runs one built-in event for a connection: the method Nest's pipeline wraps (its
   * guards read this class's and this method's metadata, its pipes the parameters').
   */
  handle(
    @ConnectedSocket() client: RealtimeConnection,
    @MessageBody() data: unknown,
    event: RegisteredEvent,
  ): Promise<unknown> {
    return event.handler(client, data);
  }

  private async run(
    connection: RealtimeConnection,
    event: RegisteredEvent,
    frame: InboundFrame,
  ): Promise<unknown> {
    try {
      return await this.pipelineOf(event)(connection, frame.data, frame.event);
    } catch (error) {
      throw realtimeErrorOf(error);
    }
  }

  private pipelineOf(event: RegisteredEvent): Pipeline {
    let pipeline = this.pipelines.get(event);
    if (!pipeline) {
      // Nest calls the callback with the resolved parameters (client, data) and
      // applies `handle`'s metadata; the callback adds the event it is made for.
      const callback = (...[client, data]: unknown[]) =>
        this.handle(client as RealtimeConnection, data, event);
      pipeline = this.contextCreator.create(
        this,
        callback,
        'handle',
        ROUTE_ARGS_METADATA,
        // Nest's own ws parameter factory; its `data` type is narrower than the interface's.
        WS_PARAMS as unknown as Parameters<ExternalContextCreator['create']>[4],
        undefined,
        undefined,
        // Nest applies no global exception filters to gateways; nor does this.
        { guards: true, interceptors: true, filters: false },
        'ws',
      ) as Pipeline;
      this.pipelines.set(event, pipeline);
    }
    return pipeline;
  }
}

/**
 * What a guard, interceptor or pipe threw, as the error the frame is answered
 * with: a refusal is FORBIDDEN, a `WsException` what it carries (as for the app's
 * handlers), an `HttpException` its message; the module's own errors as they are.
 */
function realtimeErrorOf(error: unknown): unknown {
  if (error instanceof RealtimeError || error instanceof RpcError) return error;
  if (error instanceof ForbiddenException) {
    return new RealtimeError(ErrorCode.Forbidden, error.message);
  }
  if (error instanceof WsException) {
    const { code, message, details } = exceptionBody(error.getError());
    return new RpcError(code, message, details);
  }
  if (error instanceof HttpException) {
    return new RpcError(ErrorCode.HandlerError, error.message);
  }
  return error;
}

/**
 * A gateway class of the module's own for one app: made per `forRoot` call, so that
 * `useGatewayOptions` can make it a gateway (or leave it none, with
 * `websocket: false`) once the options are known, which for `forRootAsync` is at
 * start-up. Nest connects gateways after that.
 */
export function realtimeGatewayClass(): Type<RealtimeGateway> {
  return class AppRealtimeGateway extends RealtimeGateway {};
}

/** Makes `gateway` a Nest gateway when the WebSocket transport is on. */
export function useGatewayOptions(
  gateway: Type<RealtimeGateway>,
  options: ResolvedRealtimeOptions,
): void {
  if (options.websocket) WebSocketGateway({ path: BUILTIN_GATEWAY_PATH })(gateway);
}
