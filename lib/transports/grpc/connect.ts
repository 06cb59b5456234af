import type { INestApplication } from '@nestjs/common';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { fileURLToPath } from 'node:url';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { GrpcEventWriter } from './grpc-sink.js';
import { GrpcListener } from './grpc-listener.js';
import { RealtimeGrpcStreams } from './grpc-streams.service.js';

/**
 * The path of protos/realtime/v1/realtime.proto, to load it in clients (and servers).
 *
 * @example
 * ```ts
 * const definition = protoLoader.loadSync(REALTIME_PROTO_PATH, PROTO_LOADER_OPTIONS);
 * ```
 */
export const REALTIME_PROTO_PATH = fileURLToPath(
  new URL('../../../protos/realtime/v1/realtime.proto', import.meta.url),
);

/**
 * The path of the standard health service's proto (`grpc.health.v1`).
 *
 * @example
 * ```ts
 * const health = protoLoader.loadSync(HEALTH_PROTO_PATH, PROTO_LOADER_OPTIONS);
 * ```
 */
export const HEALTH_PROTO_PATH = fileURLToPath(
  new URL('../../../protos/grpc/health/v1/health.proto', import.meta.url),
);

/**
 * proto-loader's options for both protos, on the server and in clients: camelCase
 * fields, 64-bit integers as numbers, defaults filled in, oneofs named.
 *
 * @example
 * ```ts
 * const definition = protoLoader.loadSync(REALTIME_PROTO_PATH, PROTO_LOADER_OPTIONS);
 * ```
 */
export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

/**
 * Lets Subscribe's serializer pass bytes through, and hands its own to the streams,
 * so that each event is encoded once for all the calls it goes to.
 */
function encodeEventsOnce(definition: Record<string, unknown>, streams: RealtimeGrpcStreams): void {
  const service = definition['realtime.v1.Realtime'] as
    Record<string, { responseSerialize: (value: unknown) => Buffer }> | undefined;
  const method = service?.Subscribe;
  if (!method) return;
  const serialize = method.responseSerialize;
  method.responseSerialize = (value) => (Buffer.isBuffer(value) ? value : serialize(value));
  streams.eventWriter = new GrpcEventWriter(serialize);
}

/**
 * Serves the gRPC API of a hybrid app in one call: connects the gRPC microservice at
 * `grpc.url` with both protos, and starts it. Call it before `app.listen()`.
 *
 * @throws Error when the `grpc` option is not set.
 * @example
 * ```ts
 * const app = await NestFactory.create(AppModule); // RealtimeModule.forRoot({ grpc: { url: '0.0.0.0:50051' } })
 * await connectRealtimeGrpc(app);
 * await app.listen(3000);
 * ```
 */
export async function connectRealtimeGrpc(app: INestApplication): Promise<void> {
  const { grpc } = app.get<ResolvedRealtimeOptions>(REALTIME_OPTIONS);
  if (!grpc) throw new Error('nest-realtime: set the grpc option to serve the gRPC API');
  const listener = app.get(GrpcListener);
  listener.connected = true;
  app.connectMicroservice<MicroserviceOptions>(
    {
      transport: Transport.GRPC,
      options: {
        package: ['realtime.v1', 'grpc.health.v1'],
        protoPath: [REALTIME_PROTO_PATH, HEALTH_PROTO_PATH],
        url: grpc.url,
        loader: { ...PROTO_LOADER_OPTIONS },
        onLoadPackageDefinition: (definition: Record<string, unknown>) =>
          encodeEventsOnce(definition, app.get(RealtimeGrpcStreams)),
      },
    },
    { inheritAppConfig: true },
  );
  await app.startAllMicroservices();
  listener.listening = true;
}
