import { Module } from '@nestjs/common';
import { RealtimeHealthController } from './health.controller.js';
import { RealtimeGrpcController } from './realtime-grpc.controller.js';

/**
 * The gRPC controllers (the realtime API and the health service). `RealtimeModule.forRoot`
 * imports it by itself when the `grpc` option is set; with `forRootAsync`, import it
 * yourself. It uses RealtimeModule's providers, so RealtimeModule must be global (the
 * default).
 *
 * @example
 * ```ts
 * @Module({ imports: [RealtimeModule.forRootAsync({ useFactory: () => ({ grpc: { url } }) }), RealtimeGrpcModule] })
 * export class AppModule {}
 * ```
 */
@Module({ controllers: [RealtimeGrpcController, RealtimeHealthController] })
export class RealtimeGrpcModule {}
