import { ErrorCode, INTERNAL_ERROR, type ErrorBody } from '../../protocol/index.js';

/**
 * Maps what Nest's exception filter emits (or a `WsException` carries) to an error
 * body: `{ status, message, cause }` for `new WsException('text')` as the filter
 * sends it, the text itself as `getError()` gives it, the object for
 * `new WsException({ code, message, ... })` (its other fields become `details`).
 *
 * @example
 * ```ts
 * exceptionBody({ code: 'OUT_OF_STOCK', message: 'sold out', sku: 'a1' });
 * // { code: 'OUT_OF_STOCK', message: 'sold out', details: { sku: 'a1' } }
 * ```
 */
export function exceptionBody(payload: unknown): ErrorBody {
  if (typeof payload !== 'object' || payload === null) {
    return { code: ErrorCode.HandlerError, message: String(payload) };
  }
  const {
    code,
    message,
    status: _status,
    cause: _cause,
    ...rest
  } = payload as Record<string, unknown>;
  const text = typeof message === 'string' ? message : 'error';
  const body: ErrorBody = {
    code:
      typeof code === 'string' && code.length > 0
        ? code
        : text === INTERNAL_ERROR.message
          ? ErrorCode.InternalError
          : ErrorCode.HandlerError,
    message: text,
  };
  if (Object.keys(rest).length > 0) body.details = rest;
  return body;
}
