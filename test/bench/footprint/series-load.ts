import { Worker } from 'node:worker_threads';

/**
 * Devices as a gateway sees them on a site: `devices` MQTT clients, each publishing one SenML
 * pack a second at QoS 1 with its share of `series` readings (values a slow random walk, so
 * the data is what 1 Hz sensors send). The clients run in a worker thread, so the bench's own
 * sampling and the publishers do not share an event loop; packs are spread over the second.
 */
export interface SeriesLoad {
  /** Readings acknowledged (PUBACK, so committed by a gateway) so far. */
  acked(): number;
  /** Packs whose PUBACK had not come back when the next second's pack was due. */
  late(): number;
  stop(): Promise<void>;
}

const source = `
const { parentPort, workerData } = require('node:worker_threads');
const mqtt = require('mqtt');
const { port, devices, series } = workerData;
const per = Math.ceil(series / devices);
let acked = 0, late = 0;
const clients = [];
for (let d = 0; d < devices; d++) {
  const dev = 'fp' + d;
  const client = mqtt.connect('mqtt://127.0.0.1:' + port, { clientId: dev, reconnectPeriod: 1000 });
  clients.push(client);
  const level = Array.from({ length: per }, (_, i) => 20 + (i % 50));
  let inFlight = false;
  const send = () => {
    if (!client.connected) return;
    if (inFlight) { late++; return; }
    const now = Date.now() / 1000;
    const pack = [];
    for (let k = 0; k < per; k++) {
      if (Math.random() < 0.2) level[k] += Math.random() < 0.5 ? -0.01 : 0.01;
      const r = { n: 's' + k, v: Math.round(level[k] * 100) / 100 };
      if (k === 0) { r.bn = dev + '/'; r.bt = now; }
      pack.push(r);
    }
    inFlight = true;
    client.publish('fm/d/' + dev + '/senml', JSON.stringify(pack), { qos: 1 }, (err) => {
      inFlight = false;
      if (!err) acked += per;
    });
  };
  client.once('connect', () => {
    setTimeout(() => { send(); clients[d].timer = setInterval(send, 1000); }, (1000 * d) / devices);
  });
}
setInterval(() => parentPort.postMessage({ acked, late }), 500);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  for (const c of clients) { clearInterval(c.timer); c.end(true); }
  parentPort.postMessage({ acked, late, stopped: true });
});
`;

export function startSeriesLoad(port: number, series: number, devices = 10): SeriesLoad {
  const worker = new Worker(source, { eval: true, workerData: { port, devices, series } });
  let last = { acked: 0, late: 0 };
  worker.on('message', (m: { acked: number; late: number }) => (last = m));
  return {
    acked: () => last.acked,
    late: () => last.late,
    stop: () =>
      new Promise<void>((resolve) => {
        worker.on('message', (m: { stopped?: boolean }) => {
          if (m.stopped) void worker.terminate().then(() => resolve());
        });
        worker.postMessage('stop');
      }),
  };
}
