import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { machine, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editCmdline, editConfigTxt } from '#hardware/image/boot-files';
import { generateIdentity } from '@fieldmesh/hardware/image/identity';
import { renderProvisioningFiles, type ProvisioningInput } from '#hardware/image/provisioning';
import { renderLauncher } from '#hardware/image/fleet/launcher';
import { PI_CMDLINE, PI_CONFIG } from './synthetic-image.js';

/**
 * Runs the generated firstrun.sh for real, as root, in a private mount namespace where /etc is a
 * copy and /boot/firmware, /home, /opt, /var/lib are temp directories: the real tools (useradd,
 * usermod, chpasswd, systemd-sysusers, systemctl enable, install, tar) do their work on the
 * copies, and the test reads the result. Not a Pi (no NetworkManager, no raspi-config, no
 * userconf-pi: the script's fallbacks run), but the script's own logic is exercised end to end.
 */
const canSandbox = (() => {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount --make-rprivate / && mount -t tmpfs tmpfs /mnt && echo ok'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === 'ok';
})();
if (!canSandbox) console.error('!!! firstrun.test: needs root and `unshare -m` with mount rights; firstrun.sh is NOT executed here (only linted)');

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const SSH = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0123456789abcdefghijk tester@lab';

describe.runIf(canSandbox)('firstrun.sh on a sandboxed root', () => {
  let t: string;
  let out: Record<string, string>;
  const p: ProvisioningInput = {
    hostname: 'gw-first',
    user: 'ops',
    sshKeys: [SSH],
    wifi: { ssid: 'farm', passphrase: 'correct horse battery', country: 'DE' },
    bootMount: '/boot/firmware',
  };
  const { identity } = generateIdentity({ gatewayId: 'gw-first', devices: ['d1'], now: new Date(0) });

  beforeAll(() => {
    t = mkdtempSync(join(tmpdir(), 'fm-firstrun-'));
    for (const d of ['boot', 'home', 'opt', 'varlib', 'sysusers']) mkdirSync(join(t, d));
    cpSync('/etc', join(t, 'etc'), { recursive: true, verbatimSymlinks: true });
    cpSync('/usr/lib/sysusers.d', join(t, 'sysusers'), { recursive: true });
    // What Pi OS has and this container may not: an ssh unit to enable.
    mkdirSync(join(t, 'etc/systemd/system'), { recursive: true });
    writeFileSync(join(t, 'etc/systemd/system/ssh.service'), '[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n');

    // The boot partition as `fieldmesh image` leaves it, with a tiny stand-in bundle.
    for (const [path, data] of renderProvisioningFiles(p, identity, { hasNodeRuntime: false })) {
      mkdirSync(join(t, 'boot', path, '..'), { recursive: true });
      writeFileSync(join(t, 'boot', path), data);
    }
    writeFileSync(join(t, 'boot/cmdline.txt'), editCmdline(PI_CMDLINE, '/boot/firmware/firstrun.sh'));
    writeFileSync(join(t, 'boot/config.txt'), editConfigTxt(PI_CONFIG));
    const stage = join(t, 'stage/fieldmesh');
    mkdirSync(join(stage, 'gateway/bin'), { recursive: true });
    writeFileSync(join(stage, 'gateway/bin/fieldmesh.js'), "console.log('fieldmesh bundle ok');\n");
    // The board catalog as the bundle has it, compiled; detection says "Zero 2 W budget".
    mkdirSync(join(stage, 'hardware/src/boards'), { recursive: true });
    writeFileSync(join(stage, 'hardware/src/boards/v8-flags.js'), transformSync(readFileSync(join(repo, 'hardware/src/boards/v8-flags.ts'), 'utf8'), { loader: 'ts', format: 'esm' }).code);
    writeFileSync(join(stage, 'hardware/src/boards/index.js'), "export { v8HeapFlags } from './v8-flags.js';\nexport const detectBoard = () => ({ memoryBudgetMb: 128 });\n");
    writeFileSync(join(stage, 'bundle-manifest.json'), JSON.stringify({ format: 1, name: 'fieldmesh', version: '1.4.2', machine: machine(), nodeAbi: process.versions.modules }));
    execFileSync('tar', ['-czf', join(t, 'boot/fieldmesh/fieldmesh-bundle.tgz'), '-C', join(t, 'stage'), 'fieldmesh']);

    const inner = `set -eu
T=${t}
mount --make-rprivate /
mount --bind "$T/etc" /etc
mount -t tmpfs tmpfs /boot && mkdir -p /boot/firmware && mount --bind "$T/boot" /boot/firmware
mount --bind "$T/home" /home
mount --bind "$T/opt" /opt
mount --bind "$T/varlib" /var/lib
mount --bind "$T/sysusers" /usr/lib/sysusers.d
# Refuse to go on unless every mount is in place: the script must never touch the real system.
for m in /etc /boot/firmware /home /opt /var/lib /usr/lib/sysusers.d; do mountpoint -q "$m" || { echo "not mounted: $m"; exit 9; }; done
# Pi OS ships a first user with uid 1000 for firstrun to rename.
FU=$(getent passwd 1000 | cut -d: -f1 || true)
if [ -z "$FU" ]; then useradd -m -u 1000 -U pi; FU=pi; fi
mkdir -p "/home/$FU" && chown 1000:1000 "/home/$FU"
set +e
bash /boot/firmware/firstrun.sh
echo "rc=$?"
echo "hostname=$(cat /etc/hostname)"
echo "user1000=$(getent passwd 1000 | cut -d: -f1)"
echo "fieldmesh_groups=$(id -nG fieldmesh)"
echo "fieldmesh_shell=$(getent passwd fieldmesh | cut -d: -f7)"
echo "keys=$(stat -c '%U %a' /home/ops/.ssh/authorized_keys)"
echo "config=$(stat -c '%U:%G %a' /etc/fieldmesh/gateway.yaml)"
echo "devices=$(stat -c '%U:%G %a' /var/lib/fieldmesh/devices.json)"
echo "identity=$(stat -c '%U:%G %a' /etc/fieldmesh/identity.json)"
echo "wifi=$(stat -c '%a' /etc/NetworkManager/system-connections/fieldmesh-wifi.nmconnection)"
echo "enabled=$(readlink /etc/systemd/system/multi-user.target.wants/fieldmesh.service)"
echo "app=$(/opt/fieldmesh/runtime/bin/node /opt/fieldmesh/app/gateway/bin/fieldmesh.js)"
echo "current=$(readlink /opt/fieldmesh/releases/current)"
echo "applink=$(readlink /opt/fieldmesh/app)"
echo "releases=$(stat -c '%U' /opt/fieldmesh/releases /opt/fieldmesh/releases/1.4.2 | tr '\\n' ' ')"
echo "launcher=$(stat -c '%U %a' /opt/fieldmesh/bin/fieldmesh-launch)"
echo "execstart=$(grep '^ExecStart=' /etc/systemd/system/fieldmesh.service)"
echo "nodeenv=$(cat /etc/fieldmesh/node.env)"
`;
    const r = spawnSync('unshare', ['-m', 'bash', '-c', inner], { encoding: 'utf8', timeout: 120_000 });
    out = Object.fromEntries(
      r.stdout
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    if (r.status !== 0) throw new Error(`sandbox failed (${r.status}): ${r.stdout}\n${r.stderr}`);
  }, 180_000);
  afterAll(() => {
    if (t) rmSync(t, { recursive: true, force: true });
  });

  it('finishes without a failure and cleans up after itself', () => {
    const log = readFileSync(join(t, 'boot/fieldmesh/firstrun.log'), 'utf8');
    expect(out.rc).toBe('0');
    expect(log).toContain('fieldmesh firstrun finished, fail=0');
    expect(existsSync(join(t, 'boot/firstrun.sh'))).toBe(false);
    expect(readFileSync(join(t, 'boot/cmdline.txt'), 'utf8')).not.toContain('systemd.run');
    expect(readFileSync(join(t, 'boot/cmdline.txt'), 'utf8')).toContain('rootwait quiet');
    for (const secret of ['gateway.yaml', 'device-credentials.json', 'identity.json', 'wifi.nmconnection']) {
      expect(existsSync(join(t, 'boot/fieldmesh', secret)), secret).toBe(false);
    }
  });

  it('sets host name, login user and SSH key', () => {
    expect(out.hostname).toBe('gw-first');
    expect(out.user1000).toBe('ops');
    expect(out.keys).toBe('ops 600');
    expect(readFileSync(join(t, 'home/ops/.ssh/authorized_keys'), 'utf8')).toBe(SSH + '\n');
    expect(readFileSync(join(t, 'etc/ssh/sshd_config.d/fieldmesh.conf'), 'utf8')).toContain('PasswordAuthentication no');
    expect(out.wifi).toBe('600');
  });

  it('creates the unprivileged service user in dialout and installs config, credentials and unit', () => {
    expect(out.fieldmesh_groups!.split(' ')).toEqual(expect.arrayContaining(['fieldmesh', 'dialout']));
    expect(out.fieldmesh_shell).toBe('/usr/sbin/nologin');
    expect(out.config).toBe('root:fieldmesh 640');
    expect(out.devices).toBe('fieldmesh:fieldmesh 600');
    expect(out.identity).toBe('root:root 600');
    expect(out.enabled).toBe('/etc/systemd/system/fieldmesh.service');
    expect(readFileSync(join(t, 'etc/fieldmesh/gateway.yaml'), 'utf8')).toContain(identity.clusterKey);
    expect(JSON.parse(readFileSync(join(t, 'varlib/fieldmesh/devices.json'), 'utf8')).devices.d1.hash).toBe(identity.devices[0]!.hash);
    expect(out.app).toBe('fieldmesh bundle ok');
  });

  it('lays the bundle out as the first side-by-side release, started by the launcher', () => {
    expect(out.current).toBe('1.4.2');
    expect(out.applink).toBe('releases/current');
    expect(out.releases!.trim()).toBe('fieldmesh fieldmesh');
    expect(out.launcher).toBe('root 755');
    expect(out.execstart).toBe('ExecStart=/opt/fieldmesh/bin/fieldmesh-launch');
    expect(readFileSync(join(t, 'opt/fieldmesh/bin/fieldmesh-launch'), 'utf8')).toBe(renderLauncher());
  });

  it('writes V8 heap flags sized for the board where the unit reads them', () => {
    expect(out.nodeenv).toBe('FM_V8_FLAGS=--max-semi-space-size=1 --max-old-space-size=64 --lite-mode');
    expect(readFileSync(join(t, 'etc/systemd/system/fieldmesh.service'), 'utf8')).toContain('EnvironmentFile=-/etc/fieldmesh/node.env');
  });
});


describe('firstrun.sh, read', () => {
  it('syncs the secrets it copied to the root file system before it removes their only other copy from the boot partition', () => {
    const { identity } = generateIdentity({ gatewayId: 'gw-sync', devices: ['d1'], now: new Date(0) });
    const files = new Map(renderProvisioningFiles({ hostname: 'gw-sync', user: 'ops', sshKeys: [SSH], bootMount: '/boot/firmware' }, identity, { hasNodeRuntime: false }));
    const script = [...files].find(([path]) => path.endsWith('firstrun.sh'))![1].toString();
    const lines = script.split('\n');
    const installed = lines.findIndex((l) => /^install .*"\$DATA_DIR\/devices\.json"$/.test(l));
    const removed = lines.findIndex((l) => /^rm -f "\$FM\/gateway\.yaml" "\$FM\/device-credentials\.json" "\$FM\/identity\.json"/.test(l));
    expect(installed).toBeGreaterThan(0);
    expect(removed).toBeGreaterThan(installed);
    expect(lines.slice(installed, removed).some((l) => l.trim() === 'sync')).toBe(true);
  });
});
