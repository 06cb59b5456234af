import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inRoom } from '../../test/support/room-frames.js';
import { MemoryEngine } from '../engines/memory/memory.engine.js';
import { resolveRealtimeOptions } from '../realtime.options.js';
import { RealtimeConnection, type RealtimePrincipal } from './realtime-connection.js';
import { CloseCode, ErrorCode, RealtimeError, type OutboundFrame } from '../protocol/index.js';
import { RealtimeHub } from './realtime-hub.js';
import { RealtimeMetrics } from './metrics/realtime-metrics.js';
import { RealtimeTracing } from './tracing/realtime-tracing.js';

/** A transport that records what it is sent: the core's contract, without sockets. */
class RecordingConnection extends RealtimeConnection {
  readonly transport = 'test';
  readonly sent: Buffer[] = [];
  closedWith: number | undefined;

  constructor(hub: RealtimeHub, principal: RealtimePrincipal = {}) {
    super(hub.nextConnectionId(), principal);
  }

  get isOpen(): boolean {
    return this.closedWith === undefined;
  }

  send(frame: OutboundFrame): void {
    this.sent.push(frame.bytes);
  }

  close(code: number): void {
    this.closedWith = code;
  }

  frames(): unknown[] {
    return this.sent.map((b) => JSON.parse(b.toString()));
  }
}

describe('RealtimeHub', () => {
  let hub: RealtimeHub;
  let engine: MemoryEngine;

  const connect = async (userId?: string) => {
    const connection = new RecordingConnection(hub, userId === undefined ? {} : { userId });
    await hub.addConnection(connection);
    return connection;
  };

  beforeEach(async () => {
    engine = new MemoryEngine();
    const options = resolveRealtimeOptions({ rooms: { maxPerConnection: 2, maxNameLength: 10 } });
    hub = new RealtimeHub(engine, options, new RealtimeMetrics(options), new RealtimeTracing());
    await hub.onModuleInit();
  });
  afterEach(() => hub.onApplicationShutdown());

  it('gives connection ids that start with the node id and never repeat', () => {
    const ids = new Set([hub.nextConnectionId(), hub.nextConnectionId()]);
    expect(ids.size).toBe(2);
    for (const id of ids) expect(id.startsWith(`${hub.nodeId}.`)).toBe(true);
  });

  it('joins, reports and leaves rooms', async () => {
    const a = await connect('u1');
    const b = await connect();
    expect(await hub.join(a, 'r')).toMatchObject({ name: 'r', size: 1, persistent: false });
    expect((await hub.join(b.id, 'r')).size).toBe(2);
    expect((await hub.join(a, 'r')).size).toBe(2);
    expect(await hub.roomUsers('r')).toEqual(['u1']);
    expect((await hub.roomMembers('r')).map((m) => m.connectionId)).toEqual([a.id, b.id]);
    expect(hub.connectionRooms(a)).toEqual(['r']);
    expect(await hub.leave(a, 'r')).toBe(true);
    expect(await hub.leave(a, 'r')).toBe(false);
    expect(a.rooms.size).toBe(0);
    expect((await hub.roomInfo('r'))?.size).toBe(1);
    await hub.leave(b, 'r');
    expect(await hub.roomInfo('r')).toBeUndefined();
  });

  it('refuses a room past the per-connection limit, and bad names', async () => {
    const a = await connect();
    await hub.join(a, 'r1');
    await hub.join(a, 'r2');
    await expect(hub.join(a, 'r3')).rejects.toMatchObject({ code: ErrorCode.RoomLimitReached });
    await expect(hub.join(a, 'r1')).resolves.toMatchObject({ name: 'r1' });
    await expect(hub.join(a, 'x'.repeat(11))).rejects.toMatchObject({
      code: ErrorCode.RoomNameInvalid,
    });
    expect(a.rooms).toEqual(new Set(['r1', 'r2']));
  });

  it('sends one encoded buffer to every recipient of a room', async () => {
    const a = await connect();
    const b = await connect();
    const outside = await connect();
    await hub.join(a, 'r');
    await hub.join(b, 'r');
    await hub.to('r').emit('chat', { text: 'hi' });
    expect(a.sent).toHaveLength(1);
    expect(b.sent[0]).toBe(a.sent[0]);
    expect(outside.sent).toHaveLength(0);
    expect(a.frames()).toEqual([inRoom({ event: 'chat', data: { text: 'hi' }, room: 'r' }, 1)]);
  });

  it('reaches a connection once when several targets include it, without a room field', async () => {
    const a = await connect('u1');
    await hub.join(a, 'r1');
    await hub.join(a, 'r2');
    await hub.to(['r1', 'r2']).toUser('u1').emit('x', 1);
    expect(a.frames()).toEqual([{ event: 'x', data: 1 }]);
  });

  it('leaves out excepted connections, by object or id', async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()];
    await hub.except(a).except(b.id).emit('x');
    expect([a.sent.length, b.sent.length, c.sent.length]).toEqual([0, 0, 1]);
  });

  it('keeps operators immutable', async () => {
    const [a, b] = [await connect(), await connect()];
    await hub.join(a, 'r');
    const room = hub.to('r');
    const narrowed = room.except(a);
    await room.emit('x');
    await narrowed.emit('y');
    expect(a.frames()).toEqual([inRoom({ event: 'x', room: 'r' }, 1)]);
    expect(b.sent).toHaveLength(0);
  });

  it('routes to every connection of a user', async () => {
    const tabs = [await connect('u1'), await connect('u1'), await connect('u1')];
    const other = await connect('u2');
    await hub.toUser('u1').emit('n', 3);
    for (const tab of tabs) expect(tab.frames()).toEqual([{ event: 'n', data: 3 }]);
    expect(other.sent).toHaveLength(0);
    expect(hub.connections.countByUser('u1')).toBe(3);
  });

  it('sends a batch as one rt:batch frame', async () => {
    const a = await connect();
    await hub.join(a, 'r');
    await hub.to('r').emitBatch([{ event: 'a', data: 1 }, { event: 'b' }]);
    expect(a.frames()).toEqual([
      inRoom({ event: 'rt:batch', data: [{ event: 'a', data: 1 }, { event: 'b' }], room: 'r' }, 1),
    ]);
  });

  it('removes every trace of a closed connection', async () => {
    const a = await connect('u1');
    await hub.join(a, 'r1');
    await hub.join(a, 'r2');
    await hub.removeConnection(a);
    expect(hub.connections.count()).toBe(0);
    expect(hub.connections.countByUser('u1')).toBe(0);
    expect(await hub.roomInfo('r1')).toBeUndefined();
    expect(await hub.roomMembers('r2')).toEqual([]);
    await hub.to('r1').emit('x');
    await hub.toUser('u1').emit('x');
    expect(a.sent).toHaveLength(0);
  });

  it('undoes a join that raced with the connection closing', async () => {
    const a = await connect();
    const joining = hub.join(a, 'r');
    await hub.removeConnection(a);
    await joining;
    expect(await hub.roomMembers('r')).toEqual([]);
  });

  it('keeps created rooms when empty and deletes them with their members', async () => {
    const a = await connect();
    expect(await hub.createRoom('hall')).toMatchObject({ name: 'hall', persistent: true, size: 0 });
    await hub.join(a, 'hall');
    await hub.leave(a, 'hall');
    expect(await hub.roomInfo('hall')).toMatchObject({ size: 0 });
    await hub.join(a, 'hall');
    expect(await hub.deleteRoom('hall')).toBe(true);
    expect(a.rooms.size).toBe(0);
    expect(await hub.roomInfo('hall')).toBeUndefined();
  });

  it('disconnects a connection or a user with 4500', async () => {
    const [a, b, c] = [await connect('u1'), await connect('u1'), await connect('u2')];
    hub.disconnect(c.id);
    hub.disconnectUser('u1');
    expect([a.closedWith, b.closedWith, c.closedWith]).toEqual([
      CloseCode.Disconnected,
      CloseCode.Disconnected,
      CloseCode.Disconnected,
    ]);
  });

  it('throws on bad arguments before anything is sent', async () => {
    expect(() => hub.to('')).toThrow(RealtimeError);
    expect(() => hub.toUser('')).toThrow(RealtimeError);
    await expect(hub.emit('rt:reply')).rejects.toThrow(/reserved/);
    await expect(hub.emit('')).rejects.toThrow(RealtimeError);
    expect(() => hub.connectionRooms('nope')).toThrow(/no connection/);
  });
});
