import { describe, expect, it } from 'vitest';
import { encodeFrame, OutboundFrame } from '../protocol/index.js';
import { StreamConnection, type StreamSink } from './stream-connection.js';

/** A sink that records its events. */
function recordingSink(): StreamSink & { events: [string | undefined, string, string][] } {
  const events: [string | undefined, string, string][] = [];
  return {
    events,
    ids: true,
    event: (id, event, data) =>
      events.push([id, event, typeof data === 'string' ? data : data.text]),
    comment: () => undefined,
    buffered: 0,
    end: () => undefined,
  };
}

describe('StreamConnection', () => {
  it("writes a frame from the facts it carries, without reading the frame's bytes", () => {
    const sink = recordingSink();
    const stream = new StreamConnection('n.1', {}, sink, 1 << 20, ['lobby'], 'sse');
    stream.roomSet.add('lobby');
    // Bytes no JSON parser would take: only the facts can say what this is.
    const frame = new OutboundFrame(Buffer.from('#opaque#'), {
      event: 'chat\r\nevent: forged',
      room: 'lobby',
      offset: 3,
      epoch: 'E1',
    });
    stream.send(frame);
    expect(sink.events).toHaveLength(1);
    const [id, event, data] = sink.events[0]!;
    expect(event).toBe('chatevent: forged'); // one line: no event of its own can be injected
    expect(id).toMatch(/\.E1:3$/);
    expect(data).toBe('#opaque#');
  });

  it('leaves out server calls, and acknowledged messages when the client cannot acknowledge', () => {
    const sink = recordingSink();
    const stream = new StreamConnection('n.2', {}, sink, 1 << 20, [], 'sse');
    stream.send(encodeFrame({ event: 'rt:call', id: 'c1', data: { method: 'm' } }));
    stream.send(encodeFrame({ event: 'x', data: 1, ack: 'a1' }));
    stream.send(new OutboundFrame(Buffer.from('not a frame')));
    stream.send(encodeFrame({ event: 'y', data: 2 }));
    expect(sink.events.map(([, event]) => event)).toEqual(['y']);
  });
});
