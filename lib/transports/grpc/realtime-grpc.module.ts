import { Module } from '@nestjs/common';
import { SERVES_GRPC } from './grpc-listener.js';
import { RealtimeGrpcClientStreamController } from './grpc-client-stream.controller.js';
import { RealtimeGrpcServerStreamController } from './grpc-server-stream.controller.js';
import { RealtimeGrpcSessionController } from './grpc-session.controller.js';
import { RealtimeGrpcStreams } from './grpc-streams.service.js';
import { RealtimeGrpcUnaryController } from './grpc-unary.controller.js';
import { RealtimeHealthController } from './health.controller.js';

/**
 * The gRPC controllers (the realtime API, one controller a call kind, and the health
 * service). `RealtimeModule.forRoot` imports it by itself when the `grpc` option is set;
 * with `forRootAsync`, import it yourself (without it, an app with the `grpc` option
 * fails to start with a `RealtimeStartupError`, `GRPC_MODULE_MISSING`). It uses
 * RealtimeModule's providers, so RealtimeModule must be global (the default).
 *
 * @example
 * ```ts
 * @Module({ imports: [RealtimeModule.forRootAsync({ useFactory: () => ({ grpc: { url } }) }), RealtimeGrpcModule] })
 * export class AppModule {}
 * ```
 */
@Module({
  controllers: [
    RealtimeGrpcUnaryController,
    RealtimeGrpcServerStreamController,
    RealtimeGrpcClientStreamController,
    RealtimeGrpcSessionController,
    RealtimeHealthController,
  ],
  providers: [RealtimeGrpcStreams],
})
export class RealtimeGrpcModule {
  /** Found by RealtimeModule, which refuses a grpc option without this module. */
  static readonly [SERVES_GRPC] = true;
}
