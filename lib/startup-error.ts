/**
 * What stopped the module from starting, in {@link RealtimeStartupError.code}:
 *
 * - `PEER_MISSING`: an optional peer dependency that the options need is not installed
 *   (ioredis for the Redis engine, @nestjs/platform-fastify for a Fastify test app).
 * - `ENGINE_UNREACHABLE`: the engine's server (Redis) did not answer at start.
 * - `GRPC_MODULE_MISSING`: the `grpc` option is set, but no `RealtimeGrpcModule` serves it.
 *
 * @example
 * ```ts
 * if (error instanceof RealtimeStartupError && error.code === 'ENGINE_UNREACHABLE') retryLater();
 * ```
 */
export type RealtimeStartupCode = 'PEER_MISSING' | 'ENGINE_UNREACHABLE' | 'GRPC_MODULE_MISSING';

/**
 * Start-up fails with this when the options are right but what they need is not there:
 * a peer dependency, a Redis that answers, a module to import. The message says what
 * failed and how to fix it; `code` names the failure for code, `fix` is the remedy alone,
 * and `cause` the error underneath, when there is one. (A wrong option fails with
 * `RealtimeConfigError` instead.)
 *
 * @example
 * ```ts
 * // RealtimeStartupError [ENGINE_UNREACHABLE]: nest-realtime could not start: the Redis engine
 * // could not reach redis://:***@redis:6379 (connect ECONNREFUSED 10.0.0.7:6379). Fix: start Redis
 * // there, or set engine.url to a Redis that runs
 * try {
 *   await app.listen(3000);
 * } catch (error) {
 *   if (error instanceof RealtimeStartupError) console.error(error.code, error.fix);
 *   throw error;
 * }
 * ```
 */
export class RealtimeStartupError extends Error {
  override readonly name = 'RealtimeStartupError';

  /**
   * @param code what failed (see {@link RealtimeStartupCode})
   * @param what what failed, in words
   * @param fix what to do about it
   * @param cause the error underneath, if any
   */
  constructor(
    readonly code: RealtimeStartupCode,
    what: string,
    readonly fix: string,
    cause?: unknown,
  ) {
    super(`nest-realtime could not start: ${what}. Fix: ${fix}`, { cause });
  }
}

/**
 * A URL to show in a message: its password (and a token in its query) replaced by `***`.
 *
 * @example
 * ```ts
 * maskUrl('redis://:s3cret@redis:6379/0'); // 'redis://:***@redis:6379/0'
 * ```
 */
export function maskUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(an unparsable URL)';
  }
  if (parsed.password !== '') parsed.password = '***';
  for (const key of new Set(parsed.searchParams.keys())) {
    if (/pass|token|secret/i.test(key)) parsed.searchParams.set(key, '***');
  }
  return parsed.href;
}
