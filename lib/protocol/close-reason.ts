import { CloseCode } from './codes.js';
import { MAX_CLOSE_REASON_BYTES } from './limits.js';

/** The UTF-8 length of one code point. */
function utf8Length(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

/**
 * `reason`, cut to at most 123 bytes of UTF-8 at a character boundary: a character
 * that does not fit whole is left out, never split.
 *
 * @example
 * ```ts
 * ws.close(4500, closeReason(message));
 * ```
 */
export function closeReason(reason: string): string {
  // At most 3 bytes per UTF-16 unit: a short reason needs no count.
  if (reason.length * 3 <= MAX_CLOSE_REASON_BYTES) return reason;
  let bytes = 0;
  let end = 0;
  // for-of walks code points, so a surrogate pair is one character.
  for (const char of reason) {
    const size = utf8Length(char.codePointAt(0)!);
    if (bytes + size > MAX_CLOSE_REASON_BYTES) return reason.slice(0, end);
    bytes += size;
    end += char.length;
  }
  return reason;
}

/** The close code and reason that stand for a refused handshake's HTTP status. */
export interface RefusalClose {
  readonly code: number;
  readonly reason: string;
}

/**
 * The close that tells a client asking with `rt-refuse=close` what the HTTP status
 * `status` (with its `message`) would have told it:
 * 401 is 4501 `401 <message>`, any other 4xx is 4503 `<status> <message>`,
 * 503 is 1013 `try again later`, anything else is 1011 `internal error`.
 *
 * @example
 * ```ts
 * refusalClose(403, 'Forbidden'); // { code: 4503, reason: '403 Forbidden' }
 * ```
 */
export function refusalClose(status: number, message: string): RefusalClose {
  if (status === 401) {
    return { code: CloseCode.AuthenticationRefused, reason: closeReason(`401 ${message}`) };
  }
  if (status >= 400 && status < 500) {
    return { code: CloseCode.Forbidden, reason: closeReason(`${status} ${message}`) };
  }
  if (status === 503) return { code: CloseCode.ServerFull, reason: 'try again later' };
  return { code: CloseCode.InternalError, reason: 'internal error' };
}
