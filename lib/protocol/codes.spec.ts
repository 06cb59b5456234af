import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CLOSE_CODES,
  CloseCode,
  ERROR_CODES,
  ErrorCode,
  GrpcStatus,
  closeCodeReconnect,
  errorCodeMapping,
  refusalCode,
} from './codes.js';
import { refusalClose } from './close-reason.js';

const docs = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const grpcName = (value: number) =>
  Object.entries(GrpcStatus)
    .find(([, number]) => number === value)![0]
    .replace(/(?<!^)(?=[A-Z])/g, '_')
    .toUpperCase();

describe('the error code table', () => {
  it('has a row for every error code and every close code', () => {
    expect(Object.keys(ERROR_CODES).toSorted()).toEqual(Object.values(ErrorCode).toSorted());
    expect(Object.keys(CLOSE_CODES).map(Number).toSorted()).toEqual(
      Object.values(CloseCode).toSorted(),
    );
  });

  it('is the table docs/protocol.md prints, row for row', () => {
    const section = docs.slice(docs.indexOf('### Error codes'), docs.indexOf('### Close codes'));
    const rows = [...section.matchAll(/^\| `([A-Z_]+)` +\| (\d+) +\| `([A-Z_]+)` +\| (\d+) +\|/gm)];
    expect(rows.map(([, code]) => code).toSorted()).toEqual(Object.values(ErrorCode).toSorted());
    for (const [, code, http, grpc, close] of rows) {
      const mapping = ERROR_CODES[code as ErrorCode];
      expect([code, Number(http), grpc, Number(close)]).toEqual([
        code,
        mapping.http,
        grpcName(mapping.grpc),
        mapping.close,
      ]);
    }
  });

  it('closes a refused handshake as its HTTP status says, but for the rate limits', () => {
    for (const [code, { http, close }] of Object.entries(ERROR_CODES)) {
      if (close === CloseCode.RateLimited) continue; // 4003: come back later, with backoff
      if (http === 503 || http === 429) continue; // 1013: try again later
      expect([code, refusalClose(http, '').code]).toEqual([code, close]);
    }
  });

  it('treats a code of the application as an internal error', () => {
    expect(errorCodeMapping('MY_APP_CODE')).toBe(ERROR_CODES[ErrorCode.InternalError]);
  });

  it('tells a client to come back only where the close codes allow it', () => {
    for (const [code, { reconnect }] of Object.entries(CLOSE_CODES)) {
      const n = Number(code);
      const expected = n === CloseCode.TokenExpired ? 'at-once' : n >= 4500 ? 'never' : 'backoff';
      expect([n, reconnect]).toEqual([n, expected]);
      expect(closeCodeReconnect(n)).toBe(reconnect);
    }
  });

  it('gives a code the table does not list the rule of its range', () => {
    const never = [1000, 1002, 1003, 1007, 1008, 1010, 4500, 4502, 4999];
    const backoff = [1005, 1006, 1012, 1014, 4000, 4100, 4499];
    expect(never.filter((code) => closeCodeReconnect(code) !== 'never')).toEqual([]);
    expect(backoff.filter((code) => closeCodeReconnect(code) !== 'backoff')).toEqual([]);
  });
});

describe('refusalCode', () => {
  it('names the code of a refusal by its HTTP status, as the table maps it back', () => {
    expect([401, 403, 404, 429, 500, 503].map(refusalCode)).toEqual([
      'NOT_AUTHENTICATED',
      'FORBIDDEN',
      'FORBIDDEN',
      'FORBIDDEN',
      'INTERNAL_ERROR',
      'INTERNAL_ERROR',
    ]);
    expect(ERROR_CODES[refusalCode(401)].grpc).toBe(GrpcStatus.Unauthenticated);
  });
});
