// The gateways of the e2e websocket suites (handlers, flow control).
import { Injectable, UseGuards, type CanActivate, type PipeTransform } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WsException,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import { setTimeout as delay } from 'node:timers/promises';
import { interval, map, Observable, of } from 'rxjs';
import { WsConnection } from '../../lib/index.js';

/** What a gateway's lifecycle hooks saw. */
export interface HookCall {
  readonly client: unknown;
  readonly request?: unknown;
}

/** Records the calls of a gateway's lifecycle hooks. */
abstract class HookRecorder implements OnGatewayConnection, OnGatewayDisconnect {
  readonly connected: HookCall[] = [];
  readonly disconnected: HookCall[] = [];

  handleConnection(client: unknown, request: unknown): void {
    this.connected.push({ client, request });
  }

  handleDisconnect(client: unknown): void {
    this.disconnected.push({ client });
  }
}

class DenyGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** Doubles a positive integer; refuses anything else with a WsException. */
class DoublePositivePipe implements PipeTransform {
  transform(value: unknown): number {
    if (!Number.isInteger(value) || (value as number) <= 0) {
      throw new WsException('expected a positive integer');
    }
    return (value as number) * 2;
  }
}

@Injectable()
@WebSocketGateway()
export class HandlersGateway extends HookRecorder {
  @SubscribeMessage('value')
  value(@MessageBody() data: unknown) {
    return { got: data };
  }

  @SubscribeMessage('promise')
  async promise(@MessageBody() data: unknown) {
    await delay(5);
    return { later: data };
  }

  @SubscribeMessage('observable')
  observable() {
    return of(1, 2, 3);
  }

  @SubscribeMessage('nothing')
  nothing(): void {}

  @SubscribeMessage('null')
  null() {
    return null;
  }

  @SubscribeMessage('ping')
  ping(@MessageBody() data: unknown) {
    return { event: 'pong', data };
  }

  @SubscribeMessage('ws-error')
  wsError() {
    throw new WsException('nope');
  }

  @SubscribeMessage('async-ws-error')
  async asyncWsError() {
    await delay(2);
    throw new WsException('nope');
  }

  @SubscribeMessage('coded-error')
  codedError() {
    throw new WsException({ code: 'OUT_OF_STOCK', message: 'gone', sku: 'x' });
  }

  @SubscribeMessage('crash')
  async crash() {
    await delay(2);
    throw new Error('boom');
  }

  @UseGuards(DenyGuard)
  @SubscribeMessage('guarded')
  guarded() {
    return 'should not run';
  }

  @SubscribeMessage('double')
  double(@MessageBody(DoublePositivePipe) n: number) {
    return n;
  }

  @SubscribeMessage('emit')
  emit(@ConnectedSocket() client: WsConnection): void {
    client.emit('custom', { a: 1 });
  }
}

@Injectable()
@WebSocketGateway()
export class SecondGateway extends HookRecorder {
  @SubscribeMessage('second')
  second(@MessageBody() data: unknown) {
    return { second: data };
  }
}

/** How long FlowGateway's `slow` takes, in ms. */
export const SLOW_MS = 1_500;

/** The gateway of the flow-control suites (backpressure, stream slots, teardowns). */
@WebSocketGateway()
export class FlowGateway {
  @SubscribeMessage('slow')
  async slow(@MessageBody() data: unknown) {
    await delay(SLOW_MS);
    return { slow: data };
  }

  /** A stream that goes on emitting `{ label, i }` every 20 ms. */
  @SubscribeMessage('ticks')
  ticks(@MessageBody() label: string) {
    return interval(20).pipe(map((i) => ({ event: 'tick', data: { label, i } })));
  }

  /** Never emits; unsubscribing it throws. */
  @SubscribeMessage('fragile')
  fragile() {
    return new Observable<never>(() => () => {
      throw new Error('teardown boom');
    });
  }
}
