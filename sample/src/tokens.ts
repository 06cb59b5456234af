import { BadRequestException, Controller, Get, Query } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import type { RealtimePrincipal } from 'nest-realtime';

// Signed tokens (HS256 JWTs, with jose): the page gets one for a name, and connects with
// it. A real app signs in its users here. Nodes of one cluster share JWT_SECRET; without
// it, each process makes a secret of its own.
const secret = process.env.JWT_SECRET
  ? new TextEncoder().encode(process.env.JWT_SECRET)
  : randomBytes(32);
/** Seconds a token lasts: when it ends, so does the connection (4401), and the page comes back with a new one. */
const TOKEN_TTL = Number(process.env.TOKEN_TTL ?? 900);
const NAME = /^[\w-]{1,32}$/;

/** `GET /token?name=ada`: `{ token }`, a JWT for that name. */
@Controller('token')
export class TokenController {
  @Get()
  async issue(@Query('name') name: unknown): Promise<{ token: string; expiresIn: number }> {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new BadRequestException('a name of 1 to 32 letters, digits, - or _');
    }
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(name)
      .setIssuedAt()
      .setExpirationTime(`${TOKEN_TTL}s`)
      .sign(secret);
    return { token, expiresIn: TOKEN_TTL };
  }
}

/**
 * The module's `authenticate`: the `token` query parameter must be a JWT this sample
 * signed and that has not expired. Its `exp` rides along in the principal: the
 * connection ends when the token does.
 */
export async function authenticateToken(
  request: IncomingMessage,
): Promise<RealtimePrincipal | null> {
  // The query (WebSocket, SSE), or `authorization: Bearer <token>` (gRPC metadata).
  const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  const query = new URL(request.url ?? '/', 'http://localhost').searchParams.get('token');
  const token = query ?? bearer;
  if (!token) return null;
  try {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    return typeof payload.sub === 'string' ? { userId: payload.sub, exp: payload.exp } : null;
  } catch {
    return null; // forged, expired, or not a JWT: 401
  }
}
