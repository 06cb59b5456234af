import { Module, type DynamicModule, type NestModule, type Provider } from '@nestjs/common';
import { BuiltinEventRegistry } from './core/events/builtin-event-registry.js';
import { CoreEvents } from './core/events/core-events.js';
import { FrameDispatcher } from './core/events/frame-dispatcher.js';
import { ConnectionLifecycle } from './core/lifecycle/connection-lifecycle.js';
import { PresenceEvents } from './core/presence/presence-events.js';
import { PresenceService } from './core/presence/presence.service.js';
import { RealtimeHub } from './core/realtime-hub.js';
import { RealtimeMetrics } from './core/metrics/realtime-metrics.js';
import { RealtimeTracing } from './core/tracing/realtime-tracing.js';
import { RpcService } from './core/rpc/rpc.service.js';
import { DeliveryService } from './core/delivery/delivery.service.js';
import { createEngine } from './engines/create-engine.js';
import { RealtimeEngine } from './engines/realtime-engine.interface.js';
import { REALTIME_OPTIONS } from './realtime.constants.js';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  OPTIONS_TYPE,
  REALTIME_MODULE_OPTIONS,
} from './realtime.module-definition.js';
import { RealtimeConfigError } from './options-check.js';
import { resolveRealtimeOptions, type ResolvedRealtimeOptions } from './realtime.options.js';
import {
  realtimeSseControllerClass,
  useSseOptions,
} from './transports/sse/realtime-sse.controller.js';
import { PublishBody } from './transports/sse/publish-body.js';
import { RealtimeSseEndpoint } from './transports/sse/realtime-sse.endpoint.js';
import { RealtimeSse } from './transports/sse/realtime-sse.service.js';
import { GrpcListener } from './transports/grpc/grpc-listener.js';
import { WebRtcSignalingService } from './transports/webrtc/webrtc-signaling.service.js';
import {
  realtimeGatewayClass,
  useGatewayOptions,
} from './transports/websocket/realtime.gateway.js';
import { RealtimeWsServer } from './transports/websocket/realtime-ws.server.js';
import {
  realtimeMetricsControllerClass,
  useMetricsOptions,
} from './observability/metrics.controller.js';
import { RealtimeMetricsExport } from './observability/metrics-export.service.js';
import {
  InspectorGuard,
  realtimeInspectorControllerClass,
  useInspectorOptions,
} from './observability/inspector/inspector.controller.js';
import { RealtimeInspector } from './observability/inspector/inspector.service.js';

/** Set once the transports' gateway and controller have their options. */
const TRANSPORT_ROUTES = Symbol('nest-realtime:transport-routes');

/**
 * The module. Import it once, at the root; it is global unless `isGlobal: false`.
 * Options are checked when the app starts: a wrong one stops it with a message
 * that names the option.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     RealtimeModule.forRoot({ websocket: { path: '/ws' } }),
 *     // or, with injected configuration:
 *     // RealtimeModule.forRootAsync({
 *     //   imports: [ConfigModule],
 *     //   inject: [ConfigService],
 *     //   useFactory: (config: ConfigService) => ({ websocket: { path: config.get('WS_PATH') } }),
 *     // }),
 *   ],
 *   providers: [ChatGateway],
 * })
 * export class AppModule {}
 * ```
 */
@Module({
  providers: [
    {
      provide: REALTIME_OPTIONS,
      useFactory: resolveRealtimeOptions,
      inject: [REALTIME_MODULE_OPTIONS],
    },
    {
      provide: RealtimeEngine,
      useFactory: (options: ResolvedRealtimeOptions) => createEngine(options.engine),
      inject: [REALTIME_OPTIONS],
    },
    RealtimeHub,
    RealtimeMetrics,
    RealtimeTracing,
    PresenceService,
    RpcService,
    DeliveryService,
    BuiltinEventRegistry,
    CoreEvents,
    PresenceEvents,
    FrameDispatcher,
    ConnectionLifecycle,
    RealtimeWsServer,
    RealtimeSse,
    RealtimeSseEndpoint,
    PublishBody,
    WebRtcSignalingService,
    GrpcListener,
    RealtimeMetricsExport,
    RealtimeInspector,
    InspectorGuard,
  ],
  exports: [
    RealtimeHub,
    RealtimeMetrics,
    RealtimeTracing,
    PresenceService,
    RpcService,
    DeliveryService,
    RealtimeEngine,
    BuiltinEventRegistry,
    FrameDispatcher,
    ConnectionLifecycle,
    RealtimeWsServer,
    RealtimeSse,
    WebRtcSignalingService,
    GrpcListener,
    REALTIME_OPTIONS,
  ],
})
export class RealtimeModule extends ConfigurableModuleClass implements NestModule {
  constructor(private readonly publishBody: PublishBody) {
    super();
  }

  /** Nest calls it before it registers the routes: the SSE publish body is read our way. */
  configure(): void {
    this.publishBody.install();
  }

  /** The module; with the `grpc` option, with the gRPC controllers (`RealtimeGrpcModule`). */
  static override forRoot(options: typeof OPTIONS_TYPE): DynamicModule {
    const module = withTransports(super.forRoot(options));
    if (options.grpc === undefined) return module;
    if (options.isGlobal === false) {
      // The gRPC controllers use the module's providers from a module of their own.
      throw new RealtimeConfigError('isGlobal', 'true (the default) with the grpc option', false);
    }
    // Loaded only when asked for: @nestjs/microservices and @grpc/grpc-js are optional.
    const grpc = import('./transports/grpc/realtime-grpc.module.js').then(
      ({ RealtimeGrpcModule }) => ({
        module: RealtimeGrpcModule,
      }),
    );
    return { ...module, imports: [...(module.imports ?? []), grpc] };
  }

  /** The module, with options from a factory (see the example above). */
  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return withTransports(super.forRootAsync(options));
  }
}

/**
 * Adds the module's WebSocket gateway (the built-in events) and SSE controller, as
 * classes of this module's own: their routes and paths are set from the options
 * once they are resolved, before Nest connects gateways and registers routes.
 */
function withTransports(module: DynamicModule): DynamicModule {
  const gateway = realtimeGatewayClass();
  const controller = realtimeSseControllerClass();
  const metrics = realtimeMetricsControllerClass();
  const inspector = realtimeInspectorControllerClass();
  const routes: Provider = {
    provide: TRANSPORT_ROUTES,
    useFactory: (options: ResolvedRealtimeOptions) => {
      useGatewayOptions(gateway, options);
      useSseOptions(controller, options);
      useMetricsOptions(metrics, options);
      useInspectorOptions(inspector, options);
      return true;
    },
    inject: [REALTIME_OPTIONS],
  };
  return {
    ...module,
    controllers: [...(module.controllers ?? []), controller, metrics, inspector],
    providers: [...(module.providers ?? []), gateway, routes],
  };
}
