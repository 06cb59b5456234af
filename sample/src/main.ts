import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppModule } from './app.module.js';

const here = dirname(fileURLToPath(import.meta.url));

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule);
  app.enableShutdownHooks();
  app.useStaticAssets(join(here, '..', 'public'));
  // The page loads the library's browser client straight from the build.
  app.useStaticAssets(join(here, '..', '..', 'dist'), { prefix: '/nest-realtime/' });
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);
  console.log(
    `nest-realtime sample: open http://localhost:${port}/ (WebSocket at ws://localhost:${port}/ws)`,
  );
}

void bootstrap();
