import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { randomBytes } from 'node:crypto';
import { PROTO_LOADER_OPTIONS, REALTIME_PROTO_PATH } from 'nest-realtime/grpc';
import type { PeerServer } from './peer.js';

/** The `Event` message of realtime.proto, every field set as nest-realtime sets it. */
interface Event {
  event: string;
  room: string;
  offset: number;
  epoch: string;
  data: string;
  ack: string;
}

type SubscribeCall = grpc.ServerWritableStream<{ rooms?: string[] }, Event>;

/** The `PublishRequest` message of realtime.proto. */
interface PublishRequest {
  room: string;
  event: string;
  data: string;
}

/** The `PublishSummary` of realtime.proto: a count and the last message's place. */
interface PublishSummary {
  count: number;
  last?: { room: string; epoch: string; offset: number };
  rejected: never[];
  rejectedCount: number;
}

type PublishStreamCall = grpc.ServerReadableStream<PublishRequest, PublishSummary>;

/** A room: its calls, and its place in its stream, as nest-realtime numbers a room's messages. */
interface Room {
  readonly calls: Set<SubscribeCall>;
  readonly epoch: string;
  offset: number;
}

/**
 * A minimal hand-written `@grpc/grpc-js` server of the same service
 * (realtime.v1.Realtime, only `Subscribe` and `PublishStream`; grpc-js answers
 * UNIMPLEMENTED for the rest): rooms as a Map of Sets of calls, a room message
 * written to each call as the same Event nest-realtime writes (event, room, offset,
 * epoch, JSON data), so that the bytes on the wire are the same. A call is told
 * `rt:joined` once it is in its rooms, as nest-realtime tells it, which is what the
 * clients wait for. A PublishStream's messages go to their rooms as they come, and
 * its summary is a count and the last one's place, kept as the stream goes.
 * Serves at 127.0.0.1:$BENCH_GRPC_PORT, the port the scenario chose.
 */
export function start(): Promise<PeerServer> {
  return startGrpcJs(false);
}

/**
 * The grpc-js server; with `encodeOnce`, what a careful hand-written one does besides:
 * a room message is serialised once, and the same bytes are written to every call
 * (its Subscribe method's serializer lets a Buffer through as it is), where grpc-js
 * would serialise the message object again for each call (see grpc-js-encoded.peer.ts).
 */
export async function startGrpcJs(encodeOnce: boolean): Promise<PeerServer> {
  const port = Number(process.env.BENCH_GRPC_PORT);
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error('the grpc-js peer serves at BENCH_GRPC_PORT: set it to a free port');
  }
  const definition = protoLoader.loadSync(REALTIME_PROTO_PATH, { ...PROTO_LOADER_OPTIONS });
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    realtime: { v1: { Realtime: grpc.ServiceClientConstructor } };
  };
  const rooms = new Map<string, Room>();
  const calls = new Set<SubscribeCall>();

  const leave = (call: SubscribeCall, names: readonly string[]) => {
    if (!calls.delete(call)) return;
    for (const name of names) rooms.get(name)?.calls.delete(call);
  };

  const roomOf = (name: string) => {
    let room = rooms.get(name);
    if (!room) {
      room = { calls: new Set(), epoch: randomBytes(6).toString('base64url'), offset: 0 };
      rooms.set(name, room);
    }
    return room;
  };

  const authenticated = (call: SubscribeCall | PublishStreamCall) => {
    const authorization = call.metadata.get('authorization')[0];
    return typeof authorization === 'string' && authorization.startsWith('Bearer ');
  };
  const unauthenticated = { code: grpc.status.UNAUTHENTICATED, details: 'no user' };

  const subscribe = (call: SubscribeCall) => {
    if (!authenticated(call)) {
      call.emit('error', unauthenticated);
      return;
    }
    const names = [...new Set(call.request.rooms ?? [])];
    if (names.length === 0) {
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'no rooms' });
      return;
    }
    calls.add(call);
    const joined = names.map((name) => {
      const room = roomOf(name);
      room.calls.add(call);
      return { room: name, epoch: room.epoch, offset: room.offset };
    });
    call.on('cancelled', () => leave(call, names));
    call.on('close', () => leave(call, names));
    call.on('error', () => leave(call, names));
    call.write({
      event: 'rt:joined',
      room: '',
      offset: 0,
      epoch: '',
      data: JSON.stringify({ rooms: joined }),
      ack: '',
    });
  };

  const base = proto.realtime.v1.Realtime.service;
  const serialize = base.Subscribe!.responseSerialize as (event: Event) => Buffer;
  const service: grpc.ServiceDefinition = encodeOnce
    ? {
        ...base,
        Subscribe: {
          ...base.Subscribe!,
          responseSerialize: (value: Event | Buffer) =>
            Buffer.isBuffer(value) ? value : serialize(value),
        },
      }
    : base;

  /** Numbers a message in its room's stream and writes it to the room's calls. */
  const publish = (room: Room, name: string, event: string, data: string) => {
    // One message for every call; grpc-js serialises an object for each write.
    const message: Event = {
      event,
      room: name,
      offset: ++room.offset,
      epoch: room.epoch,
      data,
      ack: '',
    };
    const written = encodeOnce ? serialize(message) : message;
    for (const call of room.calls) call.write(written as Event);
    return message;
  };

  const publishStream = (call: PublishStreamCall, done: grpc.sendUnaryData<PublishSummary>) => {
    if (!authenticated(call)) {
      done(unauthenticated);
      return;
    }
    const summary: PublishSummary = { count: 0, rejected: [], rejectedCount: 0 };
    call.on('data', ({ room, event, data }: PublishRequest) => {
      const { offset, epoch } = publish(roomOf(room), room, event, data);
      summary.count++;
      summary.last = { room, epoch, offset };
    });
    call.on('end', () => done(null, summary));
  };

  const server = new grpc.Server();
  server.addService(service, {
    Subscribe: subscribe,
    PublishStream: publishStream,
  } as grpc.UntypedServiceImplementation);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    ),
  );

  return {
    port,
    broadcast(name, count, payload) {
      const room = rooms.get(name);
      for (let i = 0; i < count; i++) {
        const data = JSON.stringify(payload());
        if (room) publish(room, name, 'msg', data);
      }
    },
    connections: () => calls.size,
    async close() {
      for (const call of calls) call.end();
      calls.clear();
      rooms.clear();
      // Calls end at once; a client that does not read could hold one: then force it.
      const forced = setTimeout(() => server.forceShutdown(), 2_000);
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      clearTimeout(forced);
    },
  };
}
