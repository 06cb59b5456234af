import type { LogLevel, LoggerService } from '@nestjs/common';
import { format } from 'node:util';
import { beforeEach, onTestFailed } from 'vitest';

/** One call of the app's logger, as the test logger recorded it. */
export interface LogEntry {
  readonly level: LogLevel;
  /** The message, and any error or stack that came with it, as one string. */
  readonly text: string;
  /** The logger's context (the class that logged), when Nest passed one. */
  readonly context: string | undefined;
  /** The message as given: a string, an Error or any value. */
  readonly message: unknown;
}

/**
 * A Nest LoggerService that records what it is told instead of printing it: the errors
 * a test provokes on purpose stay out of the test output, and the test can assert on
 * them (`testLogger.entries`). The entries of a test that fails are printed with its
 * failure (see {@link captureLogs}), so nothing unexpected is lost.
 */
export class TestLogger implements LoggerService {
  readonly entries: LogEntry[] = [];

  log(message: unknown, ...rest: unknown[]): void {
    this.record('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.record('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.record('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.record('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.record('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.record('fatal', message, rest);
  }

  /** The entries of these levels (errors and warnings by default). */
  problems(levels: readonly LogLevel[] = ['error', 'warn', 'fatal']): LogEntry[] {
    return this.entries.filter((entry) => levels.includes(entry.level));
  }

  /** Whether some entry's text matches `pattern`. */
  has(pattern: RegExp | string, levels?: readonly LogLevel[]): boolean {
    const entries = levels ? this.problems(levels) : this.entries;
    return entries.some((entry) =>
      typeof pattern === 'string' ? entry.text.includes(pattern) : pattern.test(entry.text),
    );
  }

  /** Forgets every entry. */
  clear(): void {
    this.entries.length = 0;
  }

  private record(level: LogLevel, message: unknown, rest: unknown[]): void {
    // Nest passes the context last, as a string (and for errors, a stack before it).
    const params = [...rest];
    const context =
      params.length > 0 && typeof params.at(-1) === 'string' ? (params.pop() as string) : undefined;
    const text = [message, ...params.filter((part) => part !== undefined)]
      .map((part) => (part instanceof Error ? (part.stack ?? String(part)) : format('%s', part)))
      .join('\n');
    this.entries.push({ level, text, context, message });
  }
}

/**
 * The logger of every app the tests start (test/support/app.ts). Nest's `Logger` is one
 * per process (the last app's logger serves every app), so one recorder serves them all;
 * it is cleared before each test.
 */
export const testLogger = new TestLogger();

/**
 * Clears the test logger before each test, and prints what it recorded when a test fails.
 * Registered for every spec file by vitest.config.ts (setupFiles).
 */
export function captureLogs(): void {
  beforeEach(() => {
    testLogger.clear();
    onTestFailed(() => {
      const problems = testLogger.problems();
      if (problems.length === 0) return;
      const lines = problems.map(
        (entry) => `[${entry.level}] ${entry.context ?? ''} ${entry.text}`,
      );
      console.error(`What the app logged during the failed test:\n${lines.join('\n')}`);
    });
  });
}

/**
 * Records what a child process (a test server, the sample) writes to stderr in the test
 * logger, as errors of context `name`, instead of letting it reach the test output: the
 * errors a test provokes in a node on purpose (a Redis cut off) stay quiet, and are
 * printed with a test that fails. Returns everything written so far, for error messages.
 */
export function recordStderr(name: string, stderr: NodeJS.ReadableStream): () => string {
  let written = '';
  stderr.setEncoding('utf8');
  stderr.on('data', (chunk: string) => {
    written += chunk;
    testLogger.error(chunk.trimEnd(), name);
  });
  return () => written;
}
