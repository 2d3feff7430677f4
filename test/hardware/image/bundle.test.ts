import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connectAsync } from 'mqtt';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, type BundleResult } from '#hardware/image/bundle/build';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

// The real bundle of HEAD (about 10 s here): sources compiled, production dependencies only.
describe('npm run bundle', () => {
  let dir: string;
  let first: BundleResult;
  let app: string;
  let commit: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-bundle-test-'));
    // One commit for every build here: other work may move HEAD meanwhile.
    commit = spawnSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
    first = await buildBundle({ repoRoot: repo, outFile: join(dir, 'a.tgz'), ref: commit });
    const x = join(dir, 'x');
    mkdirSync(x);
    const tar = spawnSync('tar', ['-xzf', first.outFile, '-C', x]);
    expect(tar.status).toBe(0);
    app = join(x, 'fieldmesh');
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('records what its native modules were built for', () => {
    const m = JSON.parse(readFileSync(join(app, 'bundle-manifest.json'), 'utf8')) as BundleResult['manifest'];
    expect(m).toEqual(first.manifest);
    expect(m.nodeAbi).toBe(process.versions.modules);
    expect(m.native).toContain('node_modules/better-sqlite3/build/Release/better_sqlite3.node');
    expect(m.prebuiltArm64).toContain('@serialport/bindings-cpp');
    expect(m.commit).toMatch(/^[0-9a-f]{40}$/u);
  });

  it('holds the sources and production dependencies only', () => {
    for (const p of ['package.json', 'package-lock.json', 'gateway/src/cli/main.js', 'gateway/src/cli/main.ts', 'hardware/systemd/fieldmesh.service', 'node_modules/aedes', 'node_modules/better-sqlite3', 'node_modules/serialport']) {
      expect(existsSync(join(app, p)), p).toBe(true);
    }
    for (const p of ['test', 'node_modules/vitest', 'node_modules/typescript', 'node_modules/fast-check', 'node_modules/playwright-core', 'node_modules/tsx', 'node_modules/esbuild', 'node_modules/better-sqlite3/build/Release/obj.target']) {
      expect(existsSync(join(app, p)), p).toBe(false);
    }
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.devDependencies).toBeUndefined();
    const gw = JSON.parse(readFileSync(join(app, 'gateway/package.json'), 'utf8')) as { exports: Record<string, string> };
    expect(gw.exports['.']).toBe('./src/index.js');
    const protocol = JSON.parse(readFileSync(join(app, 'protocol/package.json'), 'utf8')) as { exports: Record<string, string> };
    expect(protocol.exports['.']).toBe('./src/index.js');
    expect(existsSync(join(app, 'protocol/src/index.js'))).toBe(true);
  });

  it('runs from the unpacked bundle alone: the CLI, the image command, SQLite', () => {
    const help = spawnSync(process.execPath, [join(app, 'gateway/bin/fieldmesh.js'), '--help'], { cwd: dir, encoding: 'utf8' });
    expect(help.stderr).toBe('');
    expect(help.stdout).toContain('image');
    const image = spawnSync(process.execPath, [join(app, 'gateway/bin/fieldmesh.js'), 'image', '--help'], { cwd: dir, encoding: 'utf8' });
    expect(image.status).toBe(0);
    expect(image.stdout).toContain('--site-file');
    const sqlite = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', "const D = (await import('better-sqlite3')).default; console.log(new D(':memory:').prepare('select 40+2 as x').get().x)"],
      { cwd: app, encoding: 'utf8' },
    );
    expect(sqlite.stdout.trim()).toBe('42');
  });

  it('runs the gateway from gateway/dist, storing a reading, and loads nothing it does not use', async () => {
    // No uplink, no serial port, no mDNS configured: then no MQTT client, serial binding or
    // multicast DNS; and never the cloud bridge, PostgreSQL, WebSocket, image tooling or tsx.
    const data = join(dir, 'gw-data');
    const config = join(dir, 'gw.yaml');
    writeFileSync(config, `id: bundled\ndataDir: ${data}\nbroker: { port: 0, host: 127.0.0.1, auth: none }\nhttp: { port: 0, host: 127.0.0.1 }\nmesh: { mdns: false }\n`);
    const trace = join(dir, 'modules.txt');
    const gw = spawn(process.execPath, ['--import', join(repo, 'test/hardware/image/fixtures/module-trace.mjs'), join(app, 'gateway/bin/fieldmesh.js'), 'gateway', '--config', config, '--log-level', 'warn'], {
      cwd: dir,
      env: { ...process.env, FM_MODULE_TRACE: trace },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let out = '';
      gw.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 30_000;
      while (!/http: \S+\n/u.test(out)) {
        if (Date.now() > deadline || gw.exitCode !== null) throw new Error(`gateway did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const broker = /broker: (mqtt:\/\/\S+)/u.exec(out)![1]!;
      const http = /http: (\S+)\n/u.exec(out)![1]!;
      expect((await fetch(`${http}healthz`)).status).toBe(200);
      const client = await connectAsync(broker, { clientId: 'dev1', reconnectPeriod: 0 });
      await client.publishAsync('fm/d/dev1/senml', JSON.stringify([{ bn: 'dev1/', n: 't', v: 21.5 }]), { qos: 1 });
      await client.endAsync();
      const metrics = await (await fetch(`${http}metrics`)).text();
      expect(metrics).toMatch(/^fieldmesh_readings_ingested_total 1$/mu);
      expect(metrics).toMatch(/^nodejs_heap_size_used_bytes \d+/mu);
    } finally {
      gw.kill('SIGTERM');
      if (gw.exitCode === null) await once(gw, 'exit');
    }
    const loaded = readFileSync(trace, 'utf8').split('\n').filter(Boolean);
    expect(loaded.some((m) => m.endsWith('/gateway/dist/main.js'))).toBe(true);
    expect(loaded.filter((m) => m.includes('/gateway/src/')), 'the gateway ran from gateway/dist, not the compiled tree').toEqual([]);
    for (const unused of ['/node_modules/pg/', '/node_modules/ws/', '/node_modules/mqtt/', '/node_modules/serialport/', '/node_modules/bonjour-service/', '/node_modules/tsx/', '/cloud-bridge/', '/dashboard/', '/image/bundle/', '/image/flash/', '/image/customise']) {
      expect(loaded.filter((m) => m.includes(unused)), unused).toEqual([]);
    }
    expect(loaded.some((m) => m.includes('/node_modules/better-sqlite3/'))).toBe(true);
  }, 60_000);

  it('runs the lazily loaded CommonJS packages from gateway/dist too: the uplink connects (mqtt.js), mDNS starts', async () => {
    const aedes = await Aedes.createBroker();
    const server = createServer((s) => aedes.handle(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const connected: string[] = [];
    aedes.on('client', (c) => connected.push(c.id));
    const config = join(dir, 'gw-up.yaml');
    writeFileSync(config, `id: bundled-up\ndataDir: ${join(dir, 'gw-up-data')}\nbroker: { port: 0, host: 127.0.0.1, auth: none }\nhttp: { port: 0, host: 127.0.0.1 }\nmesh: { mdns: true, port: 0, bind: 127.0.0.1, key: ${randomBytes(32).toString('base64')} }\nuplink: { url: "mqtt://127.0.0.1:${port}" }\n`);
    const gw = spawn(process.execPath, [join(app, 'gateway/bin/fieldmesh.js'), 'gateway', '--config', config, '--log-level', 'warn'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    gw.stdout.on('data', (d: Buffer) => (out += d.toString()));
    gw.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!connected.includes('bundled-up')) {
        if (Date.now() > deadline || gw.exitCode !== null) throw new Error(`the bundled gateway's uplink did not connect: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // The mesh (and with it mDNS) starts beside the uplink, not before it: wait for its gauge.
      // A package that fails to load leaves the gateway on its seeds, which only this says.
      while (!/http: \S+\n/u.test(out)) await new Promise((r) => setTimeout(r, 20));
      const http = /http: (\S+)\n/u.exec(out)![1]!;
      let metrics = '';
      while (!/^fieldmesh_mesh_discovery\{way="(mdns|seeds-only)"\} 1$/mu.test(metrics)) {
        if (Date.now() > deadline || gw.exitCode !== null) throw new Error(`the bundled gateway's mesh did not start: ${out}`);
        metrics = await (await fetch(`${http}metrics`)).text();
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(metrics, out).toMatch(/^fieldmesh_mesh_discovery\{way="mdns"\} 1$/mu);
      expect(out).not.toMatch(/is not a (function|constructor)/u);
    } finally {
      gw.kill('SIGTERM');
      if (gw.exitCode === null) await once(gw, 'exit');
      await new Promise<void>((r) => aedes.close(() => r()));
      server.close();
    }
  }, 60_000);

  it('is reproducible: the same commit gives the same bytes', async () => {
    const again = await buildBundle({ repoRoot: repo, outFile: join(dir, 'b.tgz'), ref: commit });
    expect(again.sha256).toBe(first.sha256);
  }, 180_000);
});
