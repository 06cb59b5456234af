import { describe, expect, it } from 'vitest';
import { describeEngineConformance } from '../../../test/support/engine-conformance.js';
import { MemoryEngine } from './memory.engine.js';

describeEngineConformance('memory', async () => new MemoryEngine());

describe('MemoryEngine', () => {
  it('delivers synchronously, inside publish', async () => {
    const engine = new MemoryEngine();
    const seen: string[] = [];
    await engine.start({ deliver: (p) => seen.push(p.frame.toString()) });
    const published = engine.publish({ channels: ['*'], frame: Buffer.from('x'), except: [] });
    expect(seen).toEqual(['x']);
    await published;
  });

  it('delivers nothing after close and forgets its rooms', async () => {
    const engine = new MemoryEngine();
    const seen: string[] = [];
    await engine.start({ deliver: (p) => seen.push(p.frame.toString()) });
    await engine.createRoom('r', 1);
    await engine.close();
    await engine.publish({ channels: ['*'], frame: Buffer.from('x'), except: [] });
    expect(seen).toEqual([]);
    expect(await engine.getRoom('r')).toBeUndefined();
  });
});
