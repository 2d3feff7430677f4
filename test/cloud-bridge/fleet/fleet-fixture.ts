import { createHash } from 'node:crypto';
import { connect, type MqttClient } from 'mqtt';
import { encodeReported, fleetTopics, generateReleaseKey, parseDesired, signArtifact, type DesiredState, type ReleaseBody, type ReleaseKeyFile, type ReportedState } from '@fieldmesh/protocol';
import { GatewayCredentials } from '#cloud-bridge/broker/credentials';
import { CloudBridge, credentialsFile } from '#cloud-bridge/cloud-bridge';
import { resolveCloudConfig, type CloudConfig } from '#cloud-bridge/config';
import { tempDir, waitFor } from '../cloud-fixture.js';

export { waitFor };

export interface FleetCloud {
  bridge: CloudBridge;
  config: CloudConfig;
  dir: string;
  passwords: Record<string, string>;
  key: ReleaseKeyFile;
  stop(): Promise<void>;
}

/** A real cloud bridge (credentials auth, ports 0) with `gateways` enrolled and a release key. */
export async function startFleetCloud(gateways: string[], over: { fleet?: Record<string, unknown>; http?: Record<string, unknown> } = {}): Promise<FleetCloud> {
  const t = tempDir('fm-fleet-cloud-');
  const key = generateReleaseKey();
  const config = resolveCloudConfig({
    broker: { port: 0, host: '127.0.0.1', auth: 'credentials' },
    http: { port: 0, host: '127.0.0.1', ...over.http },
    dataDir: t.dir,
    fleet: { releaseKeys: [key.publicKey], ...over.fleet },
  });
  const creds = new GatewayCredentials(credentialsFile(config));
  const passwords: Record<string, string> = {};
  for (const id of gateways) passwords[id] = creds.add(id);
  const bridge = await CloudBridge.start(config);
  return {
    bridge,
    config,
    dir: t.dir,
    passwords,
    key,
    stop: async () => {
      await bridge.stop();
      t.cleanup();
    },
  };
}

export async function gatewayClient(port: number, id: string, password: string, clientId = id): Promise<MqttClient> {
  const c = connect(`mqtt://127.0.0.1:${port}`, { clientId, username: id, password, reconnectPeriod: 0, protocolVersion: 4 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

/** SUBACK granted QoS per filter (128 = refused; mqtt.js reports that as an error carrying the SUBACK). */
export function subscribe(c: MqttClient, topic: string): Promise<number> {
  return new Promise((resolve, reject) =>
    c.subscribe(topic, { qos: 1 }, (err, granted) => {
      const suback = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted?.[0];
      if (err) return suback === 128 ? resolve(128) : reject(err);
      resolve(granted?.[0]?.qos ?? -1);
    }),
  );
}

export function releaseBody(version: string, bundle: Buffer, over: Partial<ReleaseBody> = {}): ReleaseBody {
  return { kind: 'release', version, sha256: createHash('sha256').update(bundle).digest('hex'), bytes: bundle.length, commit: 'abc123', machine: 'x86_64', nodeAbi: '115', createdAt: '2026-12-01T00:00:00.000Z', ...over };
}

export const signedRelease = (key: ReleaseKeyFile, version: string, bundle: Buffer) => signArtifact(releaseBody(version, bundle), key);

export function report(id: string, over: Partial<ReportedState> = {}): ReportedState {
  return { format: 1, gateway: id, at: new Date().toISOString(), tags: [], running: { version: '1.0.0', configRevision: null }, desiredSerial: null, refused: [], ...over };
}

/**
 * A gateway as the cloud sees it over MQTT: a real client with its own credential, subscribed
 * to its desired state, answering each new release in it with a reported state: in-progress,
 * then adopted or rolled-back as `outcome(version)` says. Keeps every desired message it got.
 */
export class SimulatedGateway {
  readonly desired: DesiredState[] = [];
  running: string;
  private constructor(
    readonly id: string,
    readonly client: MqttClient,
    private readonly outcome: (version: string) => 'adopted' | 'rolled-back' | 'silent',
    private readonly tags: string[],
    initial: string,
  ) {
    this.running = initial;
  }

  static async connect(port: number, id: string, password: string, opts: { outcome?: (version: string) => 'adopted' | 'rolled-back' | 'silent'; tags?: string[]; running?: string } = {}): Promise<SimulatedGateway> {
    const client = await gatewayClient(port, id, password);
    const g = new SimulatedGateway(id, client, opts.outcome ?? (() => 'adopted'), opts.tags ?? [], opts.running ?? '1.0.0');
    client.on('message', (topic, payload) => {
      if (topic !== fleetTopics.desired(id)) return;
      const d = parseDesired(payload);
      if (d.ok) g.onDesired(d.value);
    });
    const granted = await subscribe(client, fleetTopics.desired(id));
    if (granted !== 1) throw new Error(`${id}: desired subscription refused (${granted})`);
    g.publish();
    return g;
  }

  versionsSeen(): string[] {
    return [...new Set(this.desired.flatMap((d) => (d.release ? [d.release.body.version] : [])))];
  }

  private failed = new Set<string>();

  private onDesired(d: DesiredState): void {
    this.desired.push(d);
    const v = d.release?.body.version;
    if (v === undefined || v === this.running || this.failed.has(v)) return;
    const result = this.outcome(v);
    if (result === 'silent') return;
    const from = this.running;
    this.publish({ desiredSerial: d.serial, update: { kind: 'release', target: v, step: 'fetch', outcome: 'in-progress', at: new Date().toISOString() } });
    if (result === 'adopted') {
      this.running = v;
      this.publish({ desiredSerial: d.serial, update: { kind: 'release', target: v, step: 'confirm', outcome: 'adopted', at: new Date().toISOString() } });
    } else {
      this.failed.add(v);
      this.publish({ desiredSerial: d.serial, running: { version: from, configRevision: null }, update: { kind: 'release', target: v, step: 'trial', outcome: 'rolled-back', reason: 'exited with code 1 before confirming', at: new Date().toISOString() } });
    }
  }

  publish(over: Partial<ReportedState> = {}): void {
    this.client.publish(fleetTopics.reported(this.id), encodeReported(report(this.id, { tags: this.tags, running: { version: this.running, configRevision: null }, ...over })), { qos: 1, retain: true });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
