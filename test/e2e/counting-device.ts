import { connect, type MqttClient } from 'mqtt';
import { encodeSenml, type Reading } from '@fieldmesh/device-sdk';

const T = Date.UTC(2026, 0, 1);

/**
 * A device that publishes SenML packs numbered by fm_seq at QoS 1, one at a time, resending a
 * pack whose PUBACK it did not get (after reconnecting), as the device SDK does. Values are unique
 * counters (pack i holds i*perPack .. i*perPack+perPack-1), so every copy can be traced.
 */
export class CountingDevice {
  readonly acked = new Set<number>();
  next = 1;
  private stopped = false;
  private client: MqttClient | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly port: number,
    readonly perPack: number,
    private readonly id = 'dev1',
  ) {}

  start(): void {
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.client?.end(true);
    this.client = null;
  }

  /** Every pack sent so far was acknowledged (the one in flight included). */
  allAcked(): boolean {
    return this.acked.size === this.next - 1;
  }

  private pack(i: number): string {
    const readings: Reading[] = Array.from({ length: this.perPack }, (_, k) => ({ series: `${this.id}/s${k % 4}`, ts: T + i * 1000 + k, value: i * this.perPack + k }));
    return encodeSenml(readings, { deviceSeq: i });
  }

  private connectOnce(): Promise<MqttClient> {
    return new Promise((resolve, reject) => {
      const c = connect(`mqtt://127.0.0.1:${this.port}`, { clientId: this.id, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4 });
      c.once('connect', () => resolve(c));
      c.once('error', (e) => (c.end(true), reject(e)));
      c.once('close', () => reject(new Error('closed')));
    });
  }

  private publishOnce(c: MqttClient, i: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('puback timeout')), 15_000);
      c.once('close', () => (clearTimeout(timer), reject(new Error('closed'))));
      c.publish(`fm/d/${this.id}/senml`, this.pack(i), { qos: 1 }, (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!this.client) {
        try {
          this.client = await this.connectOnce();
          this.client.setMaxListeners(0);
        } catch {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
      }
      try {
        await this.publishOnce(this.client, this.next);
        this.acked.add(this.next);
        this.next++;
      } catch {
        this.client?.end(true);
        this.client = null;
      }
    }
  }
}
