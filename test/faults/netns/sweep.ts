import { linkOwner, namespaceOwner, NS_PREFIX } from './names.js';
import { exec, isAlive } from './shell.js';

/*
 * Leftovers of runs that died without their cleanup (kill -9 of the runner, a power cut in CI):
 * namespaces named cs-<pid>-… and root links csh<k> whose pid is gone. Networks of runs that are
 * still alive (another vitest worker) are left alone: their owner pid still exists.
 */

export interface SweepReport {
  namespaces: string[];
  links: string[];
}

export async function listNamespaces(ip: string): Promise<string[]> {
  const r = await exec(ip, ['netns', 'list']);
  // Lines look like "cs-123-a (id: 4)" or just "cs-123-a".
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

export async function listRootLinks(ip: string): Promise<{ name: string; alias?: string }[]> {
  const r = await exec(ip, ['-j', 'link', 'show']);
  const links = JSON.parse(r.stdout || '[]') as { ifname: string; ifalias?: string }[];
  return links.map((l) => ({ name: l.ifname, ...(l.ifalias !== undefined ? { alias: l.ifalias } : {}) }));
}

/** Kills whatever still runs inside a namespace of ours: a live process keeps a deleted namespace alive. */
export async function killProcessesIn(ip: string, ns: string): Promise<void> {
  const r = await exec(ip, ['netns', 'pids', ns], { allowFail: true });
  for (const pid of r.stdout
    .split('\n')
    .map(Number)
    .filter((p) => p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export async function sweepLeftovers(ip: string): Promise<SweepReport> {
  const report: SweepReport = { namespaces: [], links: [] };
  for (const ns of await listNamespaces(ip)) {
    if (!ns.startsWith(NS_PREFIX)) continue;
    const owner = namespaceOwner(ns);
    if (owner === undefined || isAlive(owner)) continue;
    await killProcessesIn(ip, ns);
    await exec(ip, ['netns', 'del', ns], { allowFail: true });
    report.namespaces.push(ns);
  }
  for (const link of await listRootLinks(ip)) {
    const owner = linkOwner(link.name, link.alias);
    if (owner === undefined || isAlive(owner)) continue;
    await exec(ip, ['link', 'del', link.name], { allowFail: true });
    report.links.push(link.name);
  }
  if (report.namespaces.length + report.links.length > 0) {
    process.stderr.write(`netns: removed leftovers of dead test runs: ${[...report.namespaces, ...report.links].join(', ')}\n`);
  }
  return report;
}
