import { describe, expect, it } from 'vitest';
import { protocolOptionsOf } from './handshake-options.js';

const of = (url: string) => protocolOptionsOf({ url });

describe('protocolOptionsOf', () => {
  it('is all off without a query', () => {
    expect(of('/ws')).toEqual({ batch: false, ping: false, refuseWithClose: false });
    expect(protocolOptionsOf({}).ping).toBe(false);
  });

  it('reads each parameter with its one exact value, among others', () => {
    expect(of('/ws?token=a&rt-batch=1&rt-ping=1&rt-refuse=close')).toEqual({
      batch: true,
      ping: true,
      refuseWithClose: true,
    });
    expect(of('/ws?rt-ping=1')).toEqual({ batch: false, ping: true, refuseWithClose: false });
  });

  it('ignores any other value', () => {
    for (const query of ['rt-ping=2', 'rt-ping=true', 'rt-ping=', 'rt-ping', 'RT-PING=1']) {
      expect(of(`/ws?${query}`).ping).toBe(false);
    }
    for (const query of ['rt-refuse=nonsense', 'rt-refuse=Close', 'rt-refuse=1', 'rt-refuse']) {
      expect(of(`/ws?${query}`).refuseWithClose).toBe(false);
    }
  });
});
