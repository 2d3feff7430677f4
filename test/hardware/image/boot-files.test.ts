import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CONFIG_TXT_BLOCK, editCmdline, editConfigTxt, notPiBootReason } from '#hardware/image/boot-files';
import { generateIdentity, hashDeviceSecret, parseIdentity, verifyDeviceSecret } from '@fieldmesh/hardware/image/identity';
import { wpaPsk } from '#hardware/image/provisioning';
import { parseMbr } from '#hardware/image/mbr';

const HOOK = 'systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target';

describe('cmdline.txt', () => {
  it('drops serial consoles, keeps the rest, adds the first-boot hook once', () => {
    const input = 'console=serial0,115200 console=ttyAMA0,115200 console=ttyS0 console=tty1 root=PARTUUID=abcd-02 rootwait\n';
    const once = editCmdline(input, '/boot/firmware/firstrun.sh');
    expect(once).toBe(`console=tty1 root=PARTUUID=abcd-02 rootwait ${HOOK}\n`);
    expect(editCmdline(once, '/boot/firmware/firstrun.sh')).toBe(once);
  });

  it('is idempotent for any token soup', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z0-9=,.]{1,12}$/u), { maxLength: 12 }), (tokens) => {
        const once = editCmdline(tokens.join(' ') + '\n', '/boot/firstrun.sh');
        expect(editCmdline(once, '/boot/firstrun.sh')).toBe(once);
        expect(once.split('\n')).toHaveLength(2);
      }),
    );
  });
});

describe('config.txt', () => {
  it('appends the UART block once, at the end, in an [all] section', () => {
    const once = editConfigTxt('dtparam=audio=on\n[cm4]\notg_mode=1');
    expect(once.endsWith(CONFIG_TXT_BLOCK)).toBe(true);
    expect(once).toMatch(/otg_mode=1\n\n# fieldmesh/u);
    expect(editConfigTxt(once)).toBe(once);
  });
});

describe('Pi boot partition recognition', () => {
  it.each([
    [['config.txt', 'cmdline.txt', 'start4.elf'], undefined],
    [['CONFIG.TXT', 'cmdline.txt', 'bcm2712-rpi-5-b.dtb'], undefined],
    [['config.txt', 'cmdline.txt', 'kernel_2712.img'], undefined],
    [['cmdline.txt', 'start.elf'], 'no config.txt'],
    [['config.txt', 'start.elf'], 'no cmdline.txt'],
    [['config.txt', 'cmdline.txt', 'grubx64.efi'], 'no firmware, kernel or bcm27xx device tree files'],
  ])('%j → %s', (names, reason) => {
    expect(notPiBootReason(names)).toBe(reason);
  });
});

describe('MBR parsing', () => {
  it('reads entries and rejects bad signatures and status bytes', () => {
    const s = Buffer.alloc(512);
    s[510] = 0x55;
    s[511] = 0xaa;
    s[446 + 4] = 0x0c;
    s.writeUInt32LE(8192, 446 + 8);
    s.writeUInt32LE(1024, 446 + 12);
    expect(parseMbr(s)).toEqual([{ number: 1, type: 0x0c, bootable: false, startLba: 8192, sectors: 1024, offsetBytes: 8192 * 512, sizeBytes: 1024 * 512 }]);
    s[446] = 0x42;
    expect(() => parseMbr(s)).toThrow(/status byte/u);
    s[511] = 0;
    expect(() => parseMbr(s)).toThrow(expect.objectContaining({ code: 'FM_ERR_IMAGE_NO_MBR' }));
  });
});

describe('identity', () => {
  it('device secret hash test vector (other languages can replay it)', () => {
    const salt = Buffer.from([...Array(16).keys()]);
    const entry = { salt: salt.toString('base64'), hash: 'lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=' };
    expect(hashDeviceSecret('secret', salt)).toBe(entry.hash);
    expect(verifyDeviceSecret('secret', entry)).toBe(true);
    expect(verifyDeviceSecret('Secret', entry)).toBe(false);
    expect(verifyDeviceSecret('secret', { salt: entry.salt, hash: 'AAAA' })).toBe(false);
  });

  it('WPA PSK matches the IEEE 802.11i test vector', () => {
    // IEEE 802.11i-2004 H.4.1: "password" / "IEEE"
    expect(wpaPsk('IEEE', 'password')).toBe('f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e');
  });

  it('is fresh per call and round-trips through identity.json', () => {
    const a = generateIdentity({ gatewayId: 'gw-1', devices: ['d1'], now: new Date(0) });
    const b = generateIdentity({ gatewayId: 'gw-1', devices: ['d1'], now: new Date(0) });
    expect(a.identity.clusterKey).not.toBe(b.identity.clusterKey);
    expect(a.identity.uplink.password).not.toBe(b.identity.uplink.password);
    expect(parseIdentity(JSON.stringify(a.identity))).toEqual(a.identity);
    expect(parseIdentity('{"format":1}')).toBeUndefined();
    expect(parseIdentity('not json')).toBeUndefined();
    expect(() => generateIdentity({ gatewayId: 'GW 1', devices: [], now: new Date(0) })).toThrow(/gateway id/u);
    expect(() => generateIdentity({ gatewayId: 'gw', devices: ['a', 'a'], now: new Date(0) })).toThrow(/device name/u);
  });
});

describe('firstrun.sh', () => {
  it('is clean under shellcheck, with and without Wi-Fi and a Node runtime', async () => {
    const { spawnSync } = await import('node:child_process');
    const { renderFirstrun } = await import('#hardware/image/firstrun');
    const { DEFAULT_SERVICE_LAYOUT } = await import('#hardware/image/service/unit');
    if (spawnSync('shellcheck', ['--version']).error) {
      const msg = '!!! shellcheck is not installed (Debian package "shellcheck", in .ci/apt-packages): firstrun.sh is not linted';
      console.error(msg);
      throw new Error(msg);
    }
    const base = { hostname: 'gw-a', user: 'ops', sshKeys: ['ssh-ed25519 AAAA x'], bootMount: '/boot/firmware' };
    for (const [p, node] of [
      [base, false],
      [{ ...base, wifi: { ssid: "it's", passphrase: 'pass phrase', country: 'DE' }, passwordHash: '$6$abcdefgh$xyz' }, true],
    ] as const) {
      const script = renderFirstrun(p, DEFAULT_SERVICE_LAYOUT, { hasNodeRuntime: node });
      const r = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: script, encoding: 'utf8' });
      expect(r.stdout).toBe('');
      expect(r.status).toBe(0);
      expect(script).toContain(node ? 'HAS_NODE_RUNTIME=1' : 'HAS_NODE_RUNTIME=0');
    }
  });
});

describe('IMAGE.md', () => {
  it('documents every error code of the catalog', async () => {
    const { readFileSync } = await import('node:fs');
    const { IMAGE_ERRORS } = await import('#hardware/image/errors');
    const doc = readFileSync(new URL('../../../hardware/src/image/IMAGE.md', import.meta.url), 'utf8');
    for (const code of Object.keys(IMAGE_ERRORS)) expect(doc, code).toContain(`| ${code} |`);
  });
});
