import { afterEach, describe, expect, it } from 'vitest';
import { labConfig, startCloud, tempDir } from './cloud-fixture.js';

/** Every refusal of the cloud's HTTP API carries its catalogued code beside the message. */
describe('cloud HTTP refusals', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  it('answer { error, code } with the code of their status, and the message names the bad input and the fix', async () => {
    const tmp = tempDir('fm-http-errors-');
    cleanups.push(tmp.cleanup);
    const cloud = await startCloud(labConfig(tmp.dir));
    cleanups.push(() => cloud.stop());
    const base = `http://127.0.0.1:${cloud.httpPort}`;
    const auth = { authorization: `Bearer ${cloud.live.issuedToken}` };
    const cases: Array<[string, RequestInit, number, string, string]> = [
      ['/api/readings?limit=x', { headers: auth }, 400, 'FM_ERR_CLOUD_HTTP_BAD_REQUEST', 'limit'],
      ['/api/readings?colour=red', { headers: auth }, 400, 'FM_ERR_CLOUD_HTTP_BAD_REQUEST', 'unknown parameter'],
      ['/api/nothing-here', { headers: auth }, 404, 'FM_ERR_CLOUD_HTTP_NOT_FOUND', 'no route /api/nothing-here'],
      ['/api/readings', { method: 'DELETE', headers: auth }, 405, 'FM_ERR_CLOUD_HTTP_METHOD', 'only GET'],
      ['/api/readings', {}, 401, 'FM_ERR_CLOUD_HTTP_UNAUTHORIZED', 'token'],
    ];
    for (const [path, init, status, code, detail] of cases) {
      const r = await fetch(base + path, init);
      expect(r.status, path).toBe(status);
      const body = (await r.json()) as { error: string; code: string };
      expect(body.code, path).toBe(code);
      expect(body.error, path).toContain(detail);
      expect(body.error, path).toContain(`(${code}: `);
    }
  });
});
