import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fieldmeshBin = join(dirname(fileURLToPath(import.meta.url)), '../../gateway/bin/fieldmesh.js');

/** A `fieldmesh …` child process with its stdout kept for `waitForLine`. */
export class FieldmeshProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  private readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [fieldmeshBin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    // Keep only the tail of the logs, for failure messages.
    this.child.stderr.on('data', (d: Buffer) => (this.err = (this.err + d.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolves with the first match of `re` in stdout; rejects on exit or after the deadline. */
  async waitForLine(re: RegExp, deadlineMs = 60_000): Promise<RegExpExecArray> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const m = re.exec(this.out);
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`process exited (${this.child.exitCode ?? this.child.signalCode}) before ${re}: ${this.out}\n${this.err}`);
      if (Date.now() > end) throw new Error(`no ${re} within ${deadlineMs} ms: ${this.out}\n${this.err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Everything the process printed on stdout so far. */
  get stdout(): string {
    return this.out;
  }

  get stderrTail(): string {
    return this.err;
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}
