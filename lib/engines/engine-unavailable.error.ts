/**
 * A call to the engine refused at once because the server behind it (Redis) is
 * unreachable. The engine logs an outage once when it starts and once when it ends
 * (with the count of calls it refused), so the module does not log these one by one:
 * a client gets `INTERNAL_ERROR`, and the log stays readable. A custom engine may throw
 * it too during an outage of its own.
 *
 * @example
 * ```ts
 * if (!this.connected) throw new EngineUnavailableError('my engine');
 * ```
 */
export class EngineUnavailableError extends Error {
  override readonly name = 'EngineUnavailableError';

  /** @param engine the engine, as its log lines name it ("the Redis engine") */
  constructor(readonly engine: string) {
    super(`${engine} is unavailable: its server does not answer`);
  }
}

/**
 * Logs a failure with its stack, unless it is an engine outage's (logged once per
 * outage by the engine instead).
 *
 * @example
 * ```ts
 * work().catch((error: unknown) => logFailure(logger, 'presence update failed', error));
 * ```
 */
export function logFailure(
  logger: { error(message: string, stack?: unknown): void },
  what: string,
  error: unknown,
): void {
  if (error instanceof EngineUnavailableError) return;
  logger.error(what, error instanceof Error ? error.stack : error);
}
