import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const CHILD = join(import.meta.dirname, 'fixtures/relay-child.ts');

/** A relay gateway in its own process (test/gateway/relay/fixtures/relay-child.ts): JSON lines out, commands in. */
export class ChildGateway {
  private readonly lines: Array<Record<string, unknown>> = [];
  private waiters: Array<() => void> = [];
  constructor(readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        return;
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }
  async next(key: string, deadlineMs = 30_000): Promise<Record<string, unknown>> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const i = this.lines.findIndex((l) => key in l);
      if (i >= 0) return this.lines.splice(i, 1)[0]!;
      if (Date.now() > end || this.proc.exitCode !== null) throw new Error(`child gave no ${key} line`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
  async ask(cmd: string, key: string): Promise<Record<string, unknown>> {
    this.proc.stdin!.write(cmd + '\n');
    return this.next(key);
  }
}

