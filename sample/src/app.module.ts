import { Module } from '@nestjs/common';
import { RealtimeModule } from 'nest-realtime';
import { ChatGateway } from './chat.gateway.js';

@Module({
  imports: [
    RealtimeModule.forRoot({
      websocket: { path: '/ws', maxConnectionsPerUser: 10 },
      engine: { type: 'memory' },
      // The sample trusts the name in the URL. A real app checks a token here.
      authenticate: (request) => {
        const name = new URL(request.url ?? '/', 'http://localhost').searchParams.get('name');
        return name && /^[\w-]{1,32}$/.test(name) ? { userId: name } : null;
      },
    }),
  ],
  providers: [ChatGateway],
})
export class AppModule {}
