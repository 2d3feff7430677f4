import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FieldmeshProcess } from './fieldmesh-process.js';
import { waitFor } from '../wait-for.js';

interface GatewayRow {
  id: string;
  online: boolean;
  epoch: string;
  readings: number;
}

/** The cloud's API takes the token of the printed dashboard URL (`/?token=…`) as a bearer header. */
function withToken(url: string): RequestInit {
  return { headers: { authorization: `Bearer ${new URL(url).searchParams.get('token')}` } };
}

async function gateways(base: string): Promise<GatewayRow[]> {
  const res = await fetch(new URL('api/gateways', base), withToken(base));
  expect(res.status).toBe(200);
  return ((await res.json()) as { gateways: GatewayRow[] }).gateways;
}

/** Polls until `pred` holds for the cloud's gateway list, or fails with the last list seen. */
async function until(base: string, pred: (g: GatewayRow[]) => boolean, deadlineMs = 60_000): Promise<GatewayRow[]> {
  let last: GatewayRow[] = [];
  return waitFor(
    async () => {
      last = await gateways(base);
      return pred(last) ? last : undefined;
    },
    "the cloud's gateway list",
    deadlineMs,
    { everyMs: 100, detail: () => `last: ${JSON.stringify(last)}` },
  );
}

describe('fieldmesh demo (what npm start runs)', () => {
  const dirs: string[] = [];
  const procs: FieldmeshProcess[] = [];
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('runs the cloud, three gateways and devices end to end, stops on Ctrl-C, and reuses its data on the next start', async () => {
    const data = mkdtempSync(join(tmpdir(), 'fm-demo-'));
    dirs.push(data);
    const args = ['demo', '--data', data, '--http-port', '0', '--interval-ms', '100'];

    const first = new FieldmeshProcess(args);
    procs.push(first);
    const url = (await first.waitForLine(/^dashboard: (http:\/\/\S+)$/m))[1]!;
    const seen = await until(url, (g) => g.length === 3 && g.every((x) => x.online && x.readings > 0));
    expect(seen.map((g) => g.id).sort()).toEqual(['gw-a', 'gw-b', 'gw-c']);
    // One serial sensor per gateway on a pty (socat is in .ci/apt-packages): its readings arrive too.
    expect(first.stdout).not.toMatch(/no serial sensors/);
    const serialDevices = ['a-nmea0183', 'b-mhz19', 'c-pms5003'];
    let missing = serialDevices;
    await waitFor(
      async () => {
        const res = (await (await fetch(new URL('api/series', url), withToken(url))).json()) as { series: Array<{ series: string }> };
        missing = serialDevices.filter((d) => !res.series.some((s) => s.series.startsWith(`${d}/`)));
        return missing.length === 0;
      },
      'readings from every serial sensor',
      60_000,
      { everyMs: 200, detail: () => `none yet from ${missing.join(', ')}` },
    );
    // The three gateways form one mesh: each sees the other two alive.
    const gwB = (await first.waitForLine(/^gateway gw-b: \S+\s+(http:\/\/\S+)\/api\/status$/m))[1]!;
    let members: unknown = null;
    await waitFor(
      async () => {
        const m = (await (await fetch(`${gwB}/api/members`)).json()) as { members: Array<{ id: string; state: string }> };
        members = m;
        return m.members.filter((x) => x.state === 'alive').length === 3;
      },
      'the mesh of three to form',
      60_000,
      { everyMs: 200, detail: () => JSON.stringify(members) },
    );
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    // The URL's token opens the page; without it the API and the page are closed.
    expect((await fetch(new URL('api/gateways', url))).status).toBe(401);
    expect((await fetch(new URL('/', url))).status).toBe(401);

    const exited = once(first.child, 'exit');
    first.child.kill('SIGINT');
    await first.waitForLine(/^stopped$/m, 30_000);
    const [code] = await exited;
    expect(code).toBe(0);

    // Second start on the same data: same identities and epochs, more readings, nothing fails.
    const second = new FieldmeshProcess(args);
    procs.push(second);
    const url2 = (await second.waitForLine(/^dashboard: (http:\/\/\S+)$/m))[1]!;
    const before = new Map(seen.map((g) => [g.id, g]));
    const after = await until(url2, (g) => g.length === 3 && g.every((x) => x.online && x.readings > before.get(x.id)!.readings));
    for (const g of after) expect(g.epoch).toBe(before.get(g.id)!.epoch);
    expect(second.stderrTail).not.toMatch(/"level":(50|60)/);
    second.child.kill('SIGINT');
    await second.waitForLine(/^stopped$/m, 30_000);
  });
});
