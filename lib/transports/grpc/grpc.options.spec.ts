import { describe, expect, it } from 'vitest';
import { resolveGrpcOptions } from './grpc.options.js';

describe('resolveGrpcOptions', () => {
  it('is off unless set, and defaults what is not the url', () => {
    expect(resolveGrpcOptions(undefined)).toBeUndefined();
    expect(resolveGrpcOptions({ url: '0.0.0.0:50051' })).toEqual({
      url: '0.0.0.0:50051',
      maxBufferedBytes: 4 << 20,
      maxStreams: Infinity,
      maxStreamsPerUser: 20,
    });
  });

  it.each([
    [{}, '"grpc.url": expected a "host:port" string, got undefined'],
    [{ url: 'x' }, '"grpc.url": expected a "host:port" string, got "x"'],
    [
      { url: 'h:1', maxBufferedBytes: 0 },
      '"grpc.maxBufferedBytes": expected a positive integer (bytes), got 0',
    ],
    [
      { url: 'h:1', q: 1 },
      '"grpc.q": expected one of the known options (url, maxBufferedBytes, maxStreams, maxStreamsPerUser), got 1',
    ],
    [
      { url: 'h:1', maxStreamsPerUser: 0 },
      '"grpc.maxStreamsPerUser": expected a positive integer or Infinity, got 0',
    ],
    [1, '"grpc": expected an object, got 1'],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveGrpcOptions(given as never)).toThrowError(error);
  });
});
