import { createRequire } from 'node:module';
import { afterEach, expect, it } from 'vitest';
import { connectDevice, publish, startRig, type Rig } from './fixture.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

// The packet writer's number cache is 65,536 Buffers (~6 MiB of heap) once filled; the gateway
// turns it off. Its first PUBACK is where it would be filled.
it('writes PUBACKs without filling mqtt-packet\'s 65,536-Buffer number cache', async () => {
  rig = await startRig();
  const c = await connectDevice(rig, 'dev1');
  await publish(c, 'fm/d/dev1/temp', '21.5');
  expect(rig.log.lastSeq()).toBe(1);
  const numbers = createRequire(import.meta.url)('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };
  expect(Object.keys(numbers.cache)).toHaveLength(0);
});
