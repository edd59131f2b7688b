import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/bootstrap/coordinator.js';
import * as inMemory from '../../src/testing/in-memory-provider.js';

const repo = path.resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(path.join(repo, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|mjs|js)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Issue 11 "Dead code": symbols no code used. They stay gone unless something uses them again. */
describe('dead code found in review stays deleted', () => {
  it('isInMemory (src/testing/in-memory-provider.ts) is gone; InMemoryProvider stays', () => {
    expect(Object.keys(inMemory)).toEqual(['InMemoryProvider']);
  });

  it('Coordinator has no `view` getter (report() reads the view itself)', () => {
    expect(Object.getOwnPropertyNames(Coordinator.prototype)).not.toContain('view');
  });

  it('no source, test, bench or example mentions the deleted names', () => {
    const files = ['src', 'providers', 'test', 'bench', 'examples'].flatMap((d) => {
      try {
        return sources(d);
      } catch {
        return [];
      }
    });
    const self = path.join(repo, 'test/core/dead-code.test.ts');
    const hits = files.filter((f) => f !== self && /\bisInMemory\b|\bcoordinator\.view\b/i.test(readFileSync(f, 'utf8')));
    expect(hits).toEqual([]);
  });
});
