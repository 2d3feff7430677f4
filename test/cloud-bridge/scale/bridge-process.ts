import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

const CLI = resolve(import.meta.dirname, '../../../gateway/bin/fieldmesh.js');

export interface BridgeProcess {
  proc: ChildProcess;
  httpPort: number;
  /** Embedded broker port (undefined behind an external broker). */
  brokerPort?: number;
  /** The live token, from the log line of the first start. */
  liveToken?: string;
  metrics: () => Promise<{ receiver: { batchesCommitted: number; readingsStored: number; readingsDuplicate: number } }>;
  kill: (signal: NodeJS.Signals) => Promise<void>;
}

/** `fieldmesh cloud --config …` as its own process; resolves once it printed its HTTP address. */
export async function startBridgeProcess(dir: string, config: Record<string, unknown>): Promise<BridgeProcess> {
  const file = join(dir, 'cloud.yaml');
  writeFileSync(file, stringify({ http: { port: 0, host: '127.0.0.1' }, dataDir: join(dir, 'data'), ...config }));
  const proc = spawn(process.execPath, [CLI, 'cloud', '--config', file, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const httpPort = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge did not start in 60 s: ${out} ${err}`)), 60_000);
    proc.stdout!.on('data', (d) => {
      out += d.toString();
      const m = /cloud http: http:\/\/[^:]+:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bridge exited ${code}: ${out} ${err}`));
    });
  });
  const brokerPort = /cloud broker: mqtt:\/\/[^:]+:(\d+)/.exec(out)?.[1];
  const liveToken = /^live token: ([A-Za-z0-9_-]+)$/m.exec(out)?.[1];
  return {
    proc,
    httpPort,
    ...(brokerPort ? { brokerPort: Number(brokerPort) } : {}),
    ...(liveToken ? { liveToken } : {}),
    // The HTTP API takes the live token (http-api.ts); sent as a bearer header.
    metrics: async () => (await (await fetch(`http://127.0.0.1:${httpPort}/api/metrics`, { headers: liveToken ? { authorization: `Bearer ${liveToken}` } : {} })).json()) as Awaited<ReturnType<BridgeProcess['metrics']>>,
    kill: async (signal) => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        await exited;
      }
    },
  };
}
