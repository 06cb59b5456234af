import type { EngineOptions } from '../realtime.options.js';
import { MemoryEngine } from './memory/memory.engine.js';
import type { RealtimeEngine } from './realtime-engine.interface.js';

/** Builds the engine the (already checked) options name. */
export function createEngine(options: EngineOptions): RealtimeEngine {
  switch (options.type) {
    case 'memory':
      return new MemoryEngine(options.shared);
  }
}
