import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Source uses the tree's shared parts instead of rolling its own: wall time comes from the
 * injected Clock (device-sdk/src/clock.ts is the one place that reads Date.now()), and a log
 * line that must not flood goes through device-sdk's RateLimitedLog; an error class is a
 * CodedError of its component's catalog; a secret file is written by writeFileDurably
 * (device-sdk/src/durable-file.ts), so a power cut can neither lose nor tear it.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const PACKAGES = ['device-sdk', 'protocol', 'hardware', 'gateway', 'cloud-bridge'];
const SKIP = new Set(['node_modules', 'dist', 'build', 'data', 'vectors']);
/** The dashboard's scripts run in the browser, whose own clock is the right one for what a person sees. */
const BROWSER = /^cloud-bridge\/src\/dashboard\//;

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (/\.(ts|js|mjs)$/.test(e.name)) out.push(relative(ROOT, p));
  }
  return out;
}

const files = PACKAGES.flatMap((p) => sources(join(ROOT, p)));

function hits(pattern: RegExp, allowed: (file: string) => boolean): string[] {
  const out: string[] = [];
  for (const f of files) {
    if (allowed(f)) continue;
    readFileSync(join(ROOT, f), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (pattern.test(line) && !/^\s*(\/\/|\*)/.test(line)) out.push(`${f}:${i + 1}: ${line.trim()}`);
      });
  }
  return out;
}

describe('source uses the shared parts', () => {
  it('sees the source tree (a broken walk would pass with nothing to check)', () => {
    expect(files.length).toBeGreaterThan(200);
    expect(files).toContain('device-sdk/src/clock.ts');
  });

  it('reads wall time only through the Clock', () => {
    expect(hits(/\bDate\.now\(\)/, (f) => f === 'device-sdk/src/clock.ts' || BROWSER.test(f))).toEqual([]);
  });

  it('rate-limits log lines with RateLimitedLog, not a hand-kept "last logged at"', () => {
    // `now - this.lastFailureLog >= 10_000`, `Date.now() - lastErrLog > …`: the shape each copy
    // took. Throttles that are not log lines (a progress bar, a budget check) have other names.
    const handRolled = /\b(now|monotonic\(\)|Date\.now\(\))\s*-\s*(this\.)?last\w*(Log|Err|Warn|Complain|Fail)\w*\s*[<>]=?/;
    expect(hits(handRolled, (f) => f === 'device-sdk/src/rate-limited-log.ts')).toEqual([]);
    // `if (n <= 10 || n % 1000 === 0) log.warn(…)`: thinning by count instead of by time.
    expect(hits(/% [\d_]+ === 0\).*\.(warn|error|info)\(/, () => false)).toEqual([]);
  });

  it('checks gateway ids, group tags and epochs with the one grammar of each in @fieldmesh/protocol (identifiers.ts)', () => {
    // The id and epoch alphabet `[A-Za-z0-9._-]` (either order of `._-`) bounded at 64: the shape each copy took.
    const idPattern = /\[A-Za-z0-9(\._-|_\.-)\]\{(0,63|1,64)\}/;
    // Other names that share the alphabet, each its own concept with its own rules.
    const otherConcepts: Record<string, RegExp> = {
      'protocol/src/identifiers.ts': /./,
      'gateway/src/ingest/app-grant.ts': /\bAPP_ID\b/, // app ids (ACL grants)
      'gateway/src/rules/schema.ts': /\bID = /, // rule ids
      'cloud-bridge/src/config.ts': /shareGroup/, // the broker's shared-subscription group
    };
    const inScope = (f: string) => /^(gateway|cloud-bridge|protocol)\//.test(f);
    const copies = hits(idPattern, (f) => !inScope(f)).filter((h) => !(otherConcepts[h.slice(0, h.indexOf(':'))]?.test(h) ?? false));
    expect(copies).toEqual([]);
    // A regex constant named for gateways, tags, mesh members or epochs is a second definition.
    expect(hits(/\b(const|let)\s+\w*(GATEWAY|TAG|MEMBER|EPOCH)\w*\s*(:\s*RegExp\s*)?=\s*\//, (f) => !inScope(f) || f === 'protocol/src/identifiers.ts')).toEqual([]);
    // The cloud meets gateways, not devices: a device id reaches it only inside a series name.
    expect(hits(/\b(isDeviceId|DEVICE_ID)\b/, (f) => !f.startsWith('cloud-bridge/'))).toEqual([]);
    // Gateway ids in the gateway are checked with isGatewayId / GATEWAY_ID, not the device id check.
    expect(hits(/\b(isDeviceId|DEVICE_ID)\b.*\b(gateway id|gatewayId|member)/i, (f) => !f.startsWith('gateway/'))).toEqual([]);
  });

  it('builds every error class on CodedError, apart from internal carriers that a catch turns into a coded one', () => {
    // Never shown to a user: each is caught where it is raised and becomes a counted drop reason
    // or a catalogued code (CodecError → a mesh drop, ModbusFaultError → FM_ERR_MODBUS_*,
    // ConfigEnvError → FM_ERR_CONFIG_ENV / FM_ERR_CLOUD_CONFIG_ENV).
    const carriers = ['class CodecError', 'class ModbusFaultError', 'class ConfigEnvError'];
    const plain = hits(/\bclass \w+ extends (Error|TypeError|RangeError)\b/, () => false).filter((h) => !carriers.some((c) => h.includes(c)));
    expect(plain).toEqual([]);
  });

  it('writes owner-only (secret) files and tmp-then-rename replacements only through writeFileDurably', () => {
    const durable = (f: string) => f === 'device-sdk/src/durable-file.ts';
    // An owner-only mode given to a write, an open or a chmod: a secret written some other way.
    // Allowed: opening a journal to append to it (rewritten whole by writeFileDurably), and
    // SQLite's database files (the database keeps its own journal).
    const ownerOnly = /\b(writeFileSync|writeFile|openSync|open|createWriteStream|chmodSync|chmod|fchmodSync)\(.*0o[46]00\b|mode:\s*0o[46]00\b/;
    const append = /openSync\([^,]+,\s*'a',\s*0o600\)/;
    expect(hits(ownerOnly, (f) => durable(f) || f === 'device-sdk/src/sqlite/open-sqlite.js').filter((h) => !append.test(h))).toEqual([]);
    // `${file}.tmp` / file + '.tmp': the shape of a hand-made replacement (without fsync, as each copy was).
    expect(hits(/\}\.tmp`|['"]\.tmp['"]/, durable)).toEqual([]);
  });

  it('the writers of every secret and identity file use writeFileDurably and no other write', () => {
    // origin-key.json, devices.json and apps.json, the demo's secrets, the init config (mesh.key),
    // the release key; gateways.json and the token files at the cloud; the image's site and secrets files.
    const writers = [
      'gateway/src/uplink/origin-key.ts',
      'gateway/src/ingest/credentials.ts',
      'gateway/src/cli/demo/secrets.ts',
      'gateway/src/cli/commands/init.ts',
      'gateway/src/cli/fleet/release-key-file.ts',
      'cloud-bridge/src/broker/credentials.ts',
      'cloud-bridge/src/http/hashed-token-file.ts',
      'hardware/src/image/identity.ts',
    ];
    const other = /\b(writeFileSync|writeFile|writeSync|appendFileSync|renameSync|rename|createWriteStream)\(/;
    for (const f of writers) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      expect(text, f).toMatch(/import \{[^}]*\bwriteFileDurably\b[^}]*\} from '@fieldmesh\/device-sdk\/durable-file'/);
      expect(text, f).toMatch(/\bwriteFileDurably\(/);
      expect(hits(other, (g) => g !== f), f).toEqual([]);
    }
  });
});
