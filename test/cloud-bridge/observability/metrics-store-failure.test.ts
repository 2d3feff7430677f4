import { afterEach, describe, expect, it } from 'vitest';
import { CloudBridge } from '#cloud-bridge/cloud-bridge';
import { MemoryCloudStore } from '#cloud-bridge/store/memory-cloud-store';
import { labConfig, tempDir } from '../cloud-fixture.js';
import { promtoolCheck, sample } from './promtool.js';

describe('/metrics while the store fails', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('answers 500 with the reason, keeps serving, and counts the failed store call in the latency histogram', async () => {
    const tmp = tempDir('fm-metrics-fail-');
    cleanups.push(tmp.cleanup);
    const store = new MemoryCloudStore();
    let down = true;
    const gateways = store.gateways.bind(store);
    store.gateways = async () => {
      if (down) throw new Error('connection to the database lost');
      return gateways();
    };
    const cloud = await CloudBridge.start(labConfig(tmp.dir), { store });
    cleanups.push(() => cloud.stop());
    const auth = { headers: { authorization: `Bearer ${cloud.live.issuedToken}` } };
    const url = `http://127.0.0.1:${cloud.httpPort}/metrics`;
    const failed = await fetch(url, auth);
    expect(failed.status).toBe(500);
    expect(((await failed.json()) as { error: string }).error).toContain('database lost');
    down = false;
    const ok = await fetch(url, auth);
    expect(ok.status).toBe(200);
    const text = await ok.text();
    expect(promtoolCheck(text).ok).toBe(true);
    // A scrape shows the calls before its own: the failed one is timed too.
    expect(sample(text, 'fieldmesh_cloud_store_seconds_count{op="gateways"}')).toBe(1);
    expect(sample(await (await fetch(url, auth)).text(), 'fieldmesh_cloud_store_seconds_count{op="gateways"}')).toBe(2);
  });
});
