/**
 * A set of listeners, called in order; one that throws is reported and does not
 * starve the others. A listener added while emitting starts with the next call.
 */
export class Listeners<A extends unknown[]> {
  private readonly set = new Set<(...args: A) => void>();

  get size(): number {
    return this.set.size;
  }

  /** Adds a listener; returns the function that removes it. */
  add(listener: (...args: A) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }

  emit(...args: A): void {
    // oxlint-disable-next-line unicorn/no-useless-spread
    for (const listener of [...this.set]) {
      try {
        listener(...args);
      } catch (error) {
        reportError(error);
      }
    }
  }
}

/** Reports an error thrown by app code the client called: the page's or process's own way. */
export function reportError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (report) report(error);
  else console.error(error);
}
