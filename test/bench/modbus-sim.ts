/**
 * Simulated Modbus slaves for test/bench/modbus.bench.ts, in their own process so their CPU is
 * not counted against the gateway's.
 *
 *   tsx test/bench/modbus-sim.ts tcp N REGS        → N TCP servers on loopback port 0 (prints the ports as JSON)
 *   tsx test/bench/modbus-sim.ts rtu PATH BAUD REGS → RTU slaves (any unit) on a pty end, paced to the line
 *
 * A pty moves bytes at once whatever the baud rate, so the RTU side keeps the line's time itself:
 * an answer is written only when it would have finished arriving on a real line — the request's
 * transmission time, then t3.5 of silence, then the response's own transmission time.
 */
import { createServer } from 'node:net';
import { SerialPort } from 'serialport';
import { systemClock } from '#device-sdk/clock';
import { crc16Modbus } from '#gateway/ingest/modbus/crc16';
import { encodeRtuFrame, interFrameGapMs, charTimeMs } from '#gateway/ingest/modbus/rtu-frame';
import { SimulatedSlave } from '#gateway/ingest/modbus/simulated-slave';
import { encodeTcpFrame, TcpFrameSplitter } from '#gateway/ingest/modbus/tcp-frame';

const [mode, a, b, c] = process.argv.slice(2);

function slaveWith(regs: number): SimulatedSlave {
  const s = new SimulatedSlave();
  s.setRegisters('holding', 0, Array.from({ length: regs }, (_, i) => i * 7));
  return s;
}

if (mode === 'tcp') {
  const n = Number(a);
  const slave = slaveWith(Number(b));
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const server = createServer((sock) => {
      sock.setNoDelay(true);
      const split = new TcpFrameSplitter();
      sock.on('data', (chunk) => {
        for (const f of split.push(chunk).frames) sock.write(encodeTcpFrame(f.transaction, f.unit, slave.answer(f.pdu)));
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    ports.push((server.address() as { port: number }).port);
  }
  console.log(JSON.stringify(ports));
} else if (mode === 'rtu') {
  const baud = Number(b);
  const slave = slaveWith(Number(c));
  const port = new SerialPort({ path: a!, baudRate: baud });
  let buf = Buffer.alloc(0);
  const char = charTimeMs(baud);
  const gap = interFrameGapMs(baud);
  port.on('data', (chunk: Buffer) => {
    const arrived = systemClock.monotonic();
    buf = Buffer.concat([buf, chunk]);
    // Requests here are fixed 8-byte reads.
    while (buf.length >= 8) {
      const frame = buf.subarray(0, 8);
      buf = buf.subarray(8);
      if (crc16Modbus(frame) !== 0) {
        buf = Buffer.alloc(0);
        return;
      }
      const answer = encodeRtuFrame(frame[0]!, slave.answer(frame.subarray(1, 6)));
      const at = arrived + 8 * char + gap + answer.length * char;
      // Spin (yielding with setImmediate) for the whole wait: a sleeping timer wakes late on a
      // loaded machine, and that lateness would be charged to the master under test.
      const spin = () => (systemClock.monotonic() >= at ? port.write(answer) : setImmediate(spin));
      spin();
    }
  });
  port.on('open', () => console.log('ready'));
}
