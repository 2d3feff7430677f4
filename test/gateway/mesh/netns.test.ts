import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../wait-for.js';

/**
 * Mesh members in their own network namespaces (veth pairs on a bridge in a hub namespace we
 * create), with nftables `numgen random` dropping a share of incoming mesh datagrams: real
 * kernel networking and real loss, no loopback shortcuts. Needs root, `ip netns` and `nft`
 * (Debian iproute2 and nftables).
 */
const tag = `fm${process.pid % 100000}`;
const hub = `${tag}-hub`;
const names = [0, 1, 2, 3].map((i) => `${tag}-n${i}`);
const addr = (i: number) => `10.251.0.${i + 1}`;
const PORT = 7946;

function sh(args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function netnsAvailable(): string | undefined {
  try {
    if (process.getuid?.() !== 0) return 'not root';
    sh(['ip', 'netns', 'list']);
    sh(['nft', '--version']);
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

const unavailable = netnsAvailable();
if (unavailable) {
  console.error(`\n*** NETWORK NAMESPACE MESH TEST NOT RUN: ${unavailable}. Needs root, iproute2 and nftables. ***\n`);
}

function cleanup(): void {
  for (const ns of [...names, hub]) {
    try {
      sh(['ip', 'netns', 'del', ns]);
    } catch {
      // not there
    }
  }
}

function lossRule(ns: string, percent: number): void {
  sh(['ip', 'netns', 'exec', ns, 'nft', 'add', 'rule', 'inet', 'fm', 'input', 'udp', 'dport', String(PORT), 'numgen', 'random', 'mod', '100', '<', String(percent), 'drop']);
}

describe.skipIf(!!unavailable)('mesh in network namespaces with nftables loss', () => {
  const children: ChildProcess[] = [];
  const views = new Map<number, Array<[string, string, string]>>();

  beforeAll(() => {
    cleanup();
    sh(['ip', 'netns', 'add', hub]);
    sh(['ip', '-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['ip', '-n', hub, 'link', 'set', 'br0', 'up']);
    names.forEach((ns, i) => {
      sh(['ip', 'netns', 'add', ns]);
      sh(['ip', 'link', 'add', `${tag}v${i}`, 'type', 'veth', 'peer', 'name', `${tag}h${i}`]);
      sh(['ip', 'link', 'set', `${tag}v${i}`, 'netns', ns]);
      sh(['ip', 'link', 'set', `${tag}h${i}`, 'netns', hub]);
      sh(['ip', '-n', hub, 'link', 'set', `${tag}h${i}`, 'master', 'br0']);
      sh(['ip', '-n', hub, 'link', 'set', `${tag}h${i}`, 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${addr(i)}/24`, 'dev', `${tag}v${i}`]);
      sh(['ip', '-n', ns, 'link', 'set', `${tag}v${i}`, 'up']);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', 'netns', 'exec', ns, 'nft', 'add', 'table', 'inet', 'fm']);
      sh(['ip', 'netns', 'exec', ns, 'nft', 'add', 'chain', 'inet', 'fm', 'input', '{ type filter hook input priority 0; }']);
      lossRule(ns, 15);
    });
  });

  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    cleanup();
  });

  const script = fileURLToPath(new URL('./fixtures/mesh-child.ts', import.meta.url));
  const key = randomBytes(32).toString('base64');

  function start(i: number): ChildProcess {
    const seeds = i === 0 ? '' : `${addr(0)}:${PORT}`;
    const child = spawn('ip', ['netns', 'exec', names[i]!, process.execPath, '--import', 'tsx', script, `ns-${i}`, seeds, key, String(PORT), addr(i)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.startsWith('[')) views.set(i, JSON.parse(l));
    });
    return child;
  }

  const until = (cond: () => boolean, what: string, deadlineMs = 60_000) => waitFor(cond, what, deadlineMs, { everyMs: 50, detail: () => JSON.stringify([...views]) });

  const sees = (i: number, id: string, state: string) => views.get(i)?.some(([m, s]) => m === id && s === state) ?? false;

  it('members converge through 15% loss, detect a kill -9, and heal a partition', { timeout: 180_000 }, async () => {
    const procs = names.map((_, i) => start(i));
    await until(() => [0, 1, 2, 3].every((i) => [0, 1, 2, 3].every((j) => sees(i, `ns-${j}`, 'alive'))), 'all four alive everywhere');
    // `ip netns exec` execs node in place: the pid is the member's.
    procs[3]!.kill('SIGKILL');
    await until(() => [0, 1, 2].every((i) => sees(i, 'ns-3', 'dead')), 'ns-3 dead everywhere');
    // Partition ns-2 from the rest for longer than the suspicion timeout, then heal.
    sh(['ip', 'netns', 'exec', names[2]!, 'nft', 'add', 'rule', 'inet', 'fm', 'input', 'udp', 'dport', String(PORT), 'drop']);
    await until(() => sees(0, 'ns-2', 'dead') && sees(2, 'ns-0', 'dead'), 'both sides declare the other dead');
    sh(['ip', 'netns', 'exec', names[2]!, 'nft', 'flush', 'chain', 'inet', 'fm', 'input']);
    lossRule(names[2]!, 15);
    await until(() => [0, 1, 2].every((i) => [0, 1, 2].every((j) => sees(i, `ns-${j}`, 'alive'))), 'partition healed');
    expect(sees(0, 'ns-3', 'dead')).toBe(true);
  });
});
