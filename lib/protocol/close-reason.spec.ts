import { describe, expect, it } from 'vitest';
import { closeReason, refusalClose } from './close-reason.js';

describe('closeReason', () => {
  it('keeps a reason of at most 123 bytes as it is', () => {
    expect(closeReason('')).toBe('');
    expect(closeReason('x'.repeat(123))).toBe('x'.repeat(123));
    expect(closeReason('é'.repeat(61) + 'x')).toBe('é'.repeat(61) + 'x'); // 123 bytes
  });

  it('cuts at a character boundary, never inside a character', () => {
    expect(closeReason('x'.repeat(124))).toBe('x'.repeat(123));
    expect(closeReason('é'.repeat(62))).toBe('é'.repeat(61)); // 2-byte: 122 bytes
    expect(closeReason('x' + '€'.repeat(41))).toBe('x' + '€'.repeat(40)); // 3-byte: 121
    // 4-byte characters are surrogate pairs in JavaScript: neither half is kept alone.
    const cut = closeReason('😀'.repeat(31));
    expect(cut).toBe('😀'.repeat(30));
    expect(Buffer.byteLength(cut)).toBe(120);
  });
});

describe('refusalClose', () => {
  it('maps the HTTP status of a refused handshake to the documented close', () => {
    expect(refusalClose(401, 'Unauthorized')).toEqual({ code: 4501, reason: '401 Unauthorized' });
    expect(refusalClose(403, 'Forbidden')).toEqual({ code: 4503, reason: '403 Forbidden' });
    expect(refusalClose(429, 'slow down')).toEqual({ code: 4503, reason: '429 slow down' });
    expect(refusalClose(500, 'Internal Server Error')).toEqual({
      code: 1011,
      reason: 'internal error',
    });
    expect(refusalClose(503, 'Service Unavailable: shutting down')).toEqual({
      code: 1013,
      reason: 'try again later',
    });
  });

  it('cuts a long message to fit a close frame', () => {
    const { reason } = refusalClose(401, 'ü'.repeat(100));
    expect(reason).toBe('401 ' + 'ü'.repeat(59));
  });
});
