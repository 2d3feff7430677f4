import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { waitFor } from '../wait-for.js';

/** Long variants of every attack run with FM_CHAOS=1; the default suite runs a short one. */
export const CHAOS = process.env.FM_CHAOS === '1';

/** Resident set size of a process, bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const MiB = 1024 * 1024;

/** The test tree's one polling helper (test/wait-for.ts), under this fixture's name. */
export const until = (cond: () => boolean | Promise<boolean>, what: string, deadlineMs = 30_000): Promise<true> => waitFor(cond, what, deadlineMs, { everyMs: 25 });

/** An MQTT remaining-length field (MQTT 3.1.1 §2.2.3). */
export function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/**
 * A TCP connection that sends the start of an MQTT CONNECT declaring `declared` bytes, then
 * `send` bytes of its body, as fast as the socket takes them. Resolves when the server closed
 * it (or the client finished sending and `deadlineMs` passed), with the bytes it got to write.
 */
export async function partialConnect(port: number, declared: number, send: number, deadlineMs = 20_000): Promise<{ closedByServer: boolean; written: number; socket: Socket }> {
  const socket = tcpConnect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((r, j) => {
    socket.once('connect', () => r());
    socket.once('error', j);
  });
  let closed = false;
  const closedP = new Promise<void>((r) => socket.once('close', () => ((closed = true), r())));
  let written = 0;
  const header = Buffer.concat([Buffer.from([0x10]), remainingLength(declared)]);
  socket.write(header);
  const chunk = Buffer.alloc(64 * 1024);
  while (written < send && !closed) {
    const n = Math.min(chunk.length, send - written);
    const ok = socket.write(chunk.subarray(0, n));
    written += n;
    if (!ok) await Promise.race([new Promise((r) => socket.once('drain', r)), closedP]);
  }
  await Promise.race([closedP, new Promise((r) => setTimeout(r, deadlineMs))]);
  return { closedByServer: closed, written, socket };
}

/** Samples a process's RSS every 20 ms while an attack runs; `stop` gives the peak and the start. */
export function sampleRss(pid: number): { stop: () => { before: number; peak: number } } {
  const before = rssBytes(pid);
  let peak = before;
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // The process is gone: the test's alive() check says so.
    }
  }, 20);
  return {
    stop: () => {
      clearInterval(t);
      try {
        peak = Math.max(peak, rssBytes(pid));
      } catch {
        // as above
      }
      return { before, peak };
    },
  };
}
