import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  HEALTH_PROTO_PATH,
  PROTO_LOADER_OPTIONS,
  REALTIME_PROTO_PATH,
  connectRealtimeGrpc,
} from '../../lib/transports/grpc/index.js';
import type { RealtimeModuleOptions } from '../../lib/index.js';
import { startApp, type StartOptions, type TestApp } from './app.js';
import { freePort } from './processes.js';
import type { ModuleMetadata } from '@nestjs/common';

const definition = protoLoader.loadSync([REALTIME_PROTO_PATH, HEALTH_PROTO_PATH], {
  ...PROTO_LOADER_OPTIONS,
});
const loaded = grpc.loadPackageDefinition(definition) as any;

/** A hybrid app serving the gRPC API too, and grpc-js clients of it. */
export interface GrpcApp extends TestApp {
  /** `127.0.0.1:<port>` of the gRPC server. */
  readonly grpcUrl: string;
  /** A client of realtime.v1.Realtime, with these metadata entries on every call. */
  realtime(metadata?: Record<string, string>): RealtimeGrpcClient;
  /** A client of grpc.health.v1.Health. */
  health(): any;
}

/** The generated client's methods, loosely typed, and the metadata its calls carry. */
export interface RealtimeGrpcClient {
  readonly raw: any;
  readonly metadata: grpc.Metadata;
  /** A unary call, as a promise. */
  unary<T = any>(method: string, request: object, options?: grpc.CallOptions): Promise<T>;
  close(): void;
}

/**
 * Port 0 would lose the bound port (Nest's gRPC server does not report it): a free one
 * is picked, and picked again when a test running beside this one took it meanwhile.
 */
async function startOnAFreePort(
  options: RealtimeModuleOptions,
  metadata: ModuleMetadata,
  nest: StartOptions,
) {
  for (let attempt = 1; ; attempt++) {
    const grpcUrl = `127.0.0.1:${await freePort()}`;
    const grpcOptions = { ...options, grpc: { ...options.grpc, url: grpcUrl } };
    try {
      // Before listen, as documented (the app warns of a grpc option nothing serves).
      const app = await startApp(grpcOptions, metadata, {
        ...nest,
        configure: async (created) => {
          await nest.configure?.(created);
          await connectRealtimeGrpc(created);
        },
      });
      return { app, grpcUrl };
    } catch (error) {
      if (attempt === 3 || !String(error).includes('EADDRINUSE')) throw error;
    }
  }
}

/** Starts a real Nest app (HTTP on a free port) that also serves gRPC on another free port. */
export async function startGrpcApp(
  options: RealtimeModuleOptions = {},
  metadata: ModuleMetadata = {},
  nest: StartOptions = {},
): Promise<GrpcApp> {
  const { app, grpcUrl } = await startOnAFreePort(options, metadata, nest);
  const clients: { close(): void }[] = [];
  return {
    ...app,
    hub: app.hub,
    grpcUrl,
    realtime(entries = {}) {
      const raw = realtimeClient(grpcUrl);
      clients.push(raw);
      const callMetadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(entries)) callMetadata.set(key, value);
      return {
        raw,
        metadata: callMetadata,
        unary: (method, request, callOptions = {}) =>
          new Promise((resolve, reject) => {
            raw[method](request, callMetadata, callOptions, (error: Error | null, reply: any) =>
              error ? reject(error) : resolve(reply),
            );
          }),
        close: () => raw.close(),
      };
    },
    health() {
      const raw = new loaded.grpc.health.v1.Health(grpcUrl, grpc.credentials.createInsecure());
      clients.push(raw);
      return raw;
    },
    async close() {
      for (const client of clients) client.close();
      await app.close();
    },
  };
}

/**
 * A generated grpc-js client of realtime.v1.Realtime at `url` (`host:port`). Without
 * retries: a retrying grpc-js call keeps every message it sent, and clears them in time
 * quadratic in their number, which a long client stream makes the test's bottleneck.
 */
export function realtimeClient(url: string): any {
  return new loaded.realtime.v1.Realtime(url, grpc.credentials.createInsecure(), {
    'grpc.enable_retries': 0,
  });
}

/** Collects a server stream's messages, and how it ended. */
export function collect(call: grpc.ClientReadableStream<any> | grpc.ClientDuplexStream<any, any>) {
  const messages: any[] = [];
  const ended: { status?: grpc.StatusObject; error?: grpc.ServiceError } = {};
  call.on('data', (message) => messages.push(message));
  call.on('status', (status) => (ended.status = status));
  call.on('error', (error: grpc.ServiceError) => (ended.error = error));
  return { messages, ended };
}

export { grpc };
