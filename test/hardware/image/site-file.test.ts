import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateIdentity, loadOrCreateSite } from '#hardware/image/identity';
import { writeSecretsFile } from '#hardware/image/customise';
import { scratchDirs } from '../../scratch-dirs.js';

/**
 * The site file holds the cluster key every gateway of a site shares: made once, durably and
 * create-only; a damaged one is an error, never a new key (new gateways could not join the old).
 */
const { fresh: freshDir } = scratchDirs('fm-site-file-');

describe('the site file', () => {
  it('is made once, owner-only, with nothing beside it, and reused', async () => {
    const dir = freshDir();
    const file = join(dir, 'north.site.json');
    writeFileSync(`${file}.tmp`, 'stale', { mode: 0o644 });
    const made = await loadOrCreateSite(file, 'north');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['north.site.json']);
    expect(await loadOrCreateSite(file, undefined)).toEqual(made);
  });

  it.each([
    ['empty (a power cut after the name was claimed)', '', /is empty/],
    ['cut off', '{"site":"north","clusterKey":"AAAA', /is not JSON/],
  ])('%s: FM_ERR_IMAGE_SITE_FILE naming the file, no new key, the file as it was', async (_what, text, why) => {
    const file = join(freshDir(), 'site.json');
    writeFileSync(file, text, { mode: 0o600 });
    await expect(loadOrCreateSite(file, 'north')).rejects.toMatchObject({ code: 'FM_ERR_IMAGE_SITE_FILE', message: expect.stringMatching(why) });
    await expect(loadOrCreateSite(file, 'north')).rejects.toMatchObject({ message: expect.stringContaining(file) });
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});

describe('the image secrets file', () => {
  it('replaces an older one whole, owner-only, leaving no .tmp', async () => {
    const dir = freshDir();
    const file = join(dir, 'gw.img.secrets.json');
    writeFileSync(file, 'older secrets', { mode: 0o644 });
    const { identity, deviceSecrets } = generateIdentity({ gatewayId: 'gw-s', devices: ['d1'], now: new Date(0) });
    await writeSecretsFile(file, { identity, deviceSecrets, reusedIdentity: false, written: [], unchanged: [] });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ gatewayId: 'gw-s' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['gw.img.secrets.json']);
  });
});
