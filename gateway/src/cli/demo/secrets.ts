import { existsSync, readFileSync } from 'node:fs';
import { writeFileDurably } from '@fieldmesh/device-sdk/durable-file';

/**
 * The demo's own passwords (gateways at the cloud, devices at their gateway), kept in its data
 * directory so a second `npm start` reuses the same identities. Only the demo keeps plain
 * passwords on disk: it plays every party on one machine. A real gateway keeps hashes only.
 */
export class DemoSecrets {
  private data: Record<string, string> = {};

  constructor(private readonly file: string) {
    if (existsSync(file)) {
      try {
        const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
          for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') this.data[k] = v;
        }
      } catch {
        // A damaged secrets file only costs new passwords: the demo rotates what it cannot read.
      }
    }
  }

  get(key: string): string | undefined {
    return this.data[key];
  }

  set(key: string, password: string): void {
    this.data[key] = password;
    writeFileDurably(this.file, JSON.stringify(this.data, null, 2) + '\n');
  }
}
