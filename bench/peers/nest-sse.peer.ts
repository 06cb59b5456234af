import 'reflect-metadata';
import {
  BadRequestException,
  Controller,
  Injectable,
  Module,
  Query,
  Sse,
  UnauthorizedException,
  UseGuards,
  type BeforeApplicationShutdown,
  type CanActivate,
  type ExecutionContext,
  type MessageEvent,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Observable, Subject } from 'rxjs';
import type { PeerServer } from './peer.js';

/**
 * The rooms: a `Subject` each, made on first use. A broadcast serialises its
 * payload once and hands the same event object to every stream of the room.
 */
@Injectable()
class Rooms implements BeforeApplicationShutdown {
  private readonly subjects = new Map<string, Subject<MessageEvent>>();
  /** Events sent so far: each event's id, as Nest would number them per stream. */
  private sent = 0;
  /** Streams subscribed now. */
  open = 0;

  /** A room's events, counted as an open stream while subscribed. */
  stream(room: string): Observable<MessageEvent> {
    let subject = this.subjects.get(room);
    if (!subject) this.subjects.set(room, (subject = new Subject()));
    const events = subject.asObservable();
    return new Observable<MessageEvent>((subscriber) => {
      this.open++;
      const subscription = events.subscribe(subscriber);
      return () => {
        this.open--;
        subscription.unsubscribe();
      };
    });
  }

  publish(room: string, event: string, payload: object): void {
    // Nest numbers events that have no id with a copy of each, per stream: an id of
    // our own spares that copy and is what a client resumes from anyway.
    this.subjects
      .get(room)
      ?.next({ type: event, id: String(++this.sent), data: JSON.stringify(payload) });
  }

  /** Completes every room, so that Nest ends every stream before the server closes. */
  beforeApplicationShutdown(): void {
    for (const subject of this.subjects.values()) subject.complete();
    this.subjects.clear();
  }
}

/** Bench clients say who they are with `authorization: Bearer <userId>`. */
@Injectable()
class BearerGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<IncomingMessage>();
    const value = request.headers.authorization;
    if (value?.startsWith('Bearer ') && value.length > 7) return true;
    throw new UnauthorizedException();
  }
}

@Controller()
class EventsController {
  constructor(private readonly rooms: Rooms) {}

  @Sse('events')
  @UseGuards(BearerGuard)
  events(@Query('room') room: unknown): Observable<MessageEvent> {
    if (typeof room !== 'string' || room === '') {
      throw new BadRequestException('one room, as ?room=<name>');
    }
    return this.rooms.stream(room);
  }
}

@Module({ controllers: [EventsController], providers: [Rooms, BearerGuard] })
class BenchModule {}

/**
 * A plain Nest app (Express) as a careful Nest developer writes it: an `@Sse()`
 * handler behind a bearer guard returns a room's `Subject`, and a broadcast is
 * `subject.next({ type, id, data })` with the payload's JSON made once. Clients
 * open `GET /events?room=<name>`; Nest writes each event (`event:`, `id:`,
 * `data:` lines) to every stream.
 */
export async function start(): Promise<PeerServer> {
  const app = await NestFactory.create(BenchModule, {
    logger: ['error', 'warn'],
    forceCloseConnections: true,
  });
  await app.listen(0, '127.0.0.1');
  const rooms = app.get(Rooms);
  return {
    port: (app.getHttpServer().address() as AddressInfo).port,
    broadcast(room, count, payload) {
      for (let i = 0; i < count; i++) rooms.publish(room, 'msg', payload());
    },
    connections: () => rooms.open,
    close: () => app.close(),
  };
}
