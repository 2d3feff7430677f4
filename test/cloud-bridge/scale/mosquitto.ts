import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../cloud-fixture.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface Mosquitto {
  url: string;
  port: number;
  stop: () => Promise<void>;
}

/** A real Mosquitto (Debian) on a free loopback port with a temp config; fails loudly if missing. */
export async function startMosquitto(atPort?: number): Promise<Mosquitto> {
  if (!existsSync(MOSQUITTO)) {
    const msg = `\n\n*** ${MOSQUITTO} is missing: the external-broker tests need Debian's mosquitto (listed in .ci/apt-packages) ***\n\n`;
    console.error(msg);
    throw new Error(msg);
  }
  const dir = mkdtempSync(join(tmpdir(), 'fm-mosquitto-'));
  const port = atPort ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  // max_inflight_messages 0: no per-client in-flight cap beyond the client's own Receive Maximum.
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nmax_inflight_messages 0\nmax_queued_messages 100000\n`);
  const proc: ChildProcess = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        if (proc.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
        const s = createConnection(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    'mosquitto listening',
  );
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
