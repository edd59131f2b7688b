import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { CANONICAL_METHODS } from '../../src/config/discovery.js';
import { installCommandFor, METHOD_PEER_CLIENTS, missingPackageOf, PEER_CLIENT_RANGES } from '../../src/registry.js';

/*
 * The optional peer clients: package.json, src/registry.ts's table and the providers' own imports
 * agree. test/package/pack.test.ts shows the same on an installed tarball.
 */

const repo = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  exports: Record<string, unknown>;
  scripts: Record<string, string>;
};

const specifierCache = new Map<string, string[]>();
function specifiersOf(file: string): string[] {
  let specifiers = specifierCache.get(file);
  if (!specifiers) {
    const js = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    }).outputText;
    specifiers = [
      ...js.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?\sfrom\s+'([^']+)'/g),
      ...js.matchAll(/(?:^|\n)\s*import\s+'([^']+)'/g),
      ...js.matchAll(/\brequire\('([^']+)'\)/g),
    ].map((m) => m[1]!);
    specifierCache.set(file, specifiers);
  }
  return specifiers;
}

/** Bare specifiers a module loads at run time (type-only imports elided, as tsc does), following relative imports. */
function runtimePackages(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const s of specifiersOf(file)) {
      if (s.startsWith('.')) {
        const target = path.resolve(path.dirname(file), s.replace(/\.js$/, '.ts'));
        if (existsSync(target)) visit(target);
      } else if (!s.startsWith('node:')) {
        packages.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!);
      }
    }
  };
  visit(entry);
  return packages;
}

describe('optional peer clients', () => {
  it('package.json: the four platform clients are optional peers (and dev dependencies), not dependencies', () => {
    expect(pkg.peerDependencies).toEqual(PEER_CLIENT_RANGES);
    for (const name of Object.keys(PEER_CLIENT_RANGES)) {
      expect(pkg.peerDependenciesMeta[name], name).toEqual({ optional: true });
      expect(pkg.devDependencies[name], name).toBe(PEER_CLIENT_RANGES[name]);
      expect(pkg.dependencies[name], name).toBeUndefined();
    }
    // Monkeypatched (providers/zookeeper/harden-client.ts): an exact version, never a range.
    expect(pkg.peerDependencies['node-zookeeper-client']).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('each method lists exactly the peer clients its module loads', () => {
    const peers = new Set(Object.keys(PEER_CLIENT_RANGES));
    for (const method of CANONICAL_METHODS) {
      const loaded = [...runtimePackages(path.join(repo, 'providers', method, 'index.ts'))].filter((p) => peers.has(p));
      expect(loaded.sort(), method).toEqual([...(METHOD_PEER_CLIENTS[method] ?? [])].sort());
    }
    // The core loads none of them (src/ never imports a provider statically).
    expect([...runtimePackages(path.join(repo, 'src/index.ts'))].filter((p) => peers.has(p))).toEqual([]);
  });

  it('every canonical method has an export, and a provider folder that is no method has none', () => {
    const folders = readdirSync(path.join(repo, 'providers'));
    for (const method of CANONICAL_METHODS) {
      expect(folders).toContain(method);
      expect(pkg.exports[`./providers/${method}`], method).toEqual({
        types: `./dist/providers/${method}/index.d.ts`,
        import: `./dist/providers/${method}/index.js`,
      });
    }
    expect(
      Object.keys(pkg.exports)
        .filter((k) => k.startsWith('./providers/'))
        .sort(),
    ).toEqual(CANONICAL_METHODS.map((m) => `./providers/${m}`).sort());
    expect(Object.keys(pkg.exports).some((k) => k.includes('*'))).toBe(false);
  });

  it('names the npm command with package.json ranges', () => {
    expect(installCommandFor('etcd')).toBe(`npm install etcd3@${pkg.peerDependencies.etcd3}`);
    expect(installCommandFor('zookeeper')).toBe('npm install node-zookeeper-client@1.1.3');
    expect(installCommandFor('aws-ecs')).toBe(
      `npm install @aws-sdk/client-ecs@${pkg.peerDependencies['@aws-sdk/client-ecs']} @aws-sdk/client-ec2@${pkg.peerDependencies['@aws-sdk/client-ec2']}`,
    );
    expect(installCommandFor('consul')).toBeUndefined();
  });

  it('README and docs/installing.md give the same commands', () => {
    const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
    const installing = readFileSync(path.join(repo, 'docs/installing.md'), 'utf8');
    for (const method of Object.keys(METHOD_PEER_CLIENTS)) {
      expect(readme, method).toContain(`\`${installCommandFor(method)}\``);
      expect(installing, method).toContain(`\`${installCommandFor(method)}\``);
    }
  });

  it('tells a missing package from a missing file', () => {
    const err = (code: string, message: string) => Object.assign(new Error(message), { code });
    expect(
      missingPackageOf(err('ERR_MODULE_NOT_FOUND', "Cannot find package 'etcd3' imported from /app/node_modules/clusterseed/dist/providers/etcd/client.js")),
    ).toBe('etcd3');
    expect(missingPackageOf(err('ERR_MODULE_NOT_FOUND', "Cannot find package '@aws-sdk/client-ec2' imported from /x.js"))).toBe('@aws-sdk/client-ec2');
    expect(missingPackageOf(err('MODULE_NOT_FOUND', "Cannot find module 'node-zookeeper-client/lib/ConnectionManager.js'\nRequire stack:\n- /x.js"))).toBe(
      'node-zookeeper-client',
    );
    expect(
      missingPackageOf(err('ERR_MODULE_NOT_FOUND', "Cannot find module '/app/dist/providers/etcd/client.js' imported from /app/dist/providers/etcd/index.js")),
    ).toBeUndefined();
    expect(missingPackageOf(err('ERR_MODULE_NOT_FOUND', "Cannot find module './client.js'"))).toBeUndefined();
    expect(missingPackageOf(new Error("Cannot find package 'etcd3'"))).toBeUndefined();
    expect(missingPackageOf(undefined)).toBeUndefined();
  });

  it('the repository builds on npm install (prepare); packing builds in prepack and ships no install script', () => {
    expect(pkg.scripts.prepare).toMatch(/\btsc\b/);
    expect(pkg.scripts.prepack).toBeDefined();
    for (const s of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts[s], s).toBeUndefined();
  });
});
