import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const folder = new URL('./', import.meta.url);
const sources = readdirSync(folder).filter(
  (name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'),
);

describe('lib/protocol', () => {
  it('imports nothing but its own files (no Nest, no Node, no other part of lib)', () => {
    const foreign = sources.flatMap((name) => {
      const text = readFileSync(new URL(name, folder), 'utf8');
      return [...text.matchAll(/from '([^']+)'/g)]
        .map(([, target]) => target!)
        .filter((target) => !target.startsWith('./'))
        .map((target) => `${name}: ${target}`);
    });
    expect(sources.length).toBeGreaterThan(5);
    expect(foreign).toEqual([]);
  });

  it('is all the client imports of the server side', () => {
    const client = new URL('../client/', import.meta.url);
    const outside = readdirSync(client)
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'))
      .flatMap((name) =>
        [...readFileSync(new URL(name, client), 'utf8').matchAll(/from '(\.\.\/[^']+)'/g)].map(
          ([, target]) => target!,
        ),
      )
      // Its files one by one, not the barrel, whose encoder brings Node's Buffer types.
      .filter((target) => !/^\.\.\/protocol\/[\w-]+\.js$/.test(target));
    expect(outside).toEqual([]);
  });
});
