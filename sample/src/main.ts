import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RealtimeWsAdapter } from 'nest-realtime';
import { connectRealtimeGrpc } from 'nest-realtime/grpc';
import { AppModule, GRPC_PORT } from './app.module.js';

const here = dirname(fileURLToPath(import.meta.url));

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule);
  app.useWebSocketAdapter(new RealtimeWsAdapter(app));
  app.enableShutdownHooks();
  app.useStaticAssets(join(here, '..', 'public'));
  // The page loads the library's browser client straight from the build.
  app.useStaticAssets(join(here, '..', '..', 'dist'), { prefix: '/nest-realtime/' });
  if (GRPC_PORT !== 'off') await connectRealtimeGrpc(app);
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);
  console.log(
    `nest-realtime sample: open http://localhost:${port}/ (WebSocket at ws://localhost:${port}/ws)`,
  );
  if (GRPC_PORT !== 'off') {
    console.log(
      `gRPC (realtime.v1.Realtime) on 127.0.0.1:${GRPC_PORT}; publish to the lobby with grpc-js:\n` +
        `  node sample/grpc-publish.mjs http://localhost:${port} 127.0.0.1:${GRPC_PORT} lobby "hello from gRPC"`,
    );
  }
}

void bootstrap();
