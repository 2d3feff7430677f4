import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFileDurably } from '@fieldmesh/device-sdk/durable-file';
import { idFromHostname } from '../../config/gateway-config.js';
import { renderTemplate } from '../init/config-template.js';
import { gatewayTemplate } from '../init/gateway-template.js';
import { cloudTemplate } from '../init/cloud-template.js';
import { parseFlags, UsageError, type Command } from '../command.js';
import { loadCloudBridge } from '../cloud-bridge-package.js';

const help = `usage: fieldmesh init gateway [--out FILE] [--id ID] [--mesh-key KEY] [--uplink URL] [--force]
       fieldmesh init cloud [--out FILE] [--force]

Writes a complete, commented config file: every key with its default and why it is that, a
generated mesh.key (gateway), and commented-out examples of a serial line, a rule and the
uplink block (gateway) or the external broker, TLS and PostgreSQL keys (cloud). Then prints
what to run next. The file loads as written: \`fieldmesh gateway --config FILE\`.

  --out FILE      where to write; default ./gateway.yaml or ./cloud.yaml
  --id ID         the gateway id; default from the host name
  --mesh-key KEY  the site's cluster key (base64 of 32 bytes) when other gateways already
                  have one; default a new random key
  --uplink URL    the cloud broker (mqtt://HOST:1884): the uplink block is written live, its
                  password and signing key read from \$FM_UPLINK_PASSWORD and
                  \$FM_UPLINK_SIGNING_KEY at start; default commented out
  --force         overwrite an existing file

The file is written mode 0600: it holds the mesh key. Values may be \${VAR}, \${VAR:-default}
or \${VAR:?message}, filled from the environment at load (docs/ARCHITECTURE.md, Configuration).
`;

function write(file: string, text: string, force: boolean): void {
  if (existsSync(file) && !force) throw new UsageError(`${file} exists; pass --force to overwrite it, or --out another file`);
  writeFileDurably(file, text);
}

const init: Command = {
  name: 'init',
  summary: 'write a complete, commented gateway.yaml or cloud.yaml and say what to run next',
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, { out: 'string', id: 'string', 'mesh-key': 'string', uplink: 'string', force: 'boolean' });
    const what = rest[0];
    if (rest.length !== 1 || (what !== 'gateway' && what !== 'cloud')) throw new UsageError('init needs one of: gateway, cloud');
    const out = typeof flags.out === 'string' ? flags.out : `${what}.yaml`;
    const force = flags.force === true;
    if (what === 'cloud') {
      if (flags.id !== undefined || flags['mesh-key'] !== undefined || flags.uplink !== undefined) throw new UsageError('--id, --mesh-key and --uplink only go with init gateway');
      write(out, renderTemplate(['fieldmesh cloud bridge config, written by `fieldmesh init cloud`.', 'Every key is shown with its default; delete what you do not change.'], cloudTemplate((await loadCloudBridge()).CLOUD_DEFAULTS)), force);
      process.stdout.write(
        `wrote ${out}\n\nnext:\n` +
          `  fieldmesh cloud add-gateway GATEWAY_ID --config ${out}   # once per gateway; prints its uplink password once\n` +
          `  fieldmesh cloud --config ${out}                          # prints its broker and http addresses, and the live token once\n` +
          `gateways on other hosts: set broker.host to 0.0.0.0 (or the address they reach) in ${out}\n`,
      );
      return 0;
    }
    const id = typeof flags.id === 'string' ? flags.id : idFromHostname();
    const meshKey = typeof flags['mesh-key'] === 'string' ? flags['mesh-key'] : randomBytes(32).toString('base64');
    const text = renderTemplate(
      [`fieldmesh gateway config, written by \`fieldmesh init gateway\`.`, 'Every key is shown with its default; delete what you do not change. Keep this file private: it holds mesh.key.'],
      gatewayTemplate({ id, meshKey, ...(typeof flags.uplink === 'string' ? { uplinkUrl: flags.uplink } : {}) }),
    );
    write(out, text, force);
    // The id and key are validated by loading what was written: a bad --id or --mesh-key fails here, not at start.
    const { loadGatewayConfig } = await import('../../config/gateway-config.js');
    try {
      // The password is the environment's at start; a placeholder lets the file be checked now.
      const placeholder: Record<string, string> = { FM_UPLINK_PASSWORD: 'checked-at-start', FM_UPLINK_SIGNING_KEY: `${'A'.repeat(43)}=` };
      loadGatewayConfig(out, { get: (v) => process.env[v] ?? placeholder[v] });
    } catch (err) {
      const { rmSync } = await import('node:fs');
      rmSync(out, { force: true });
      throw err;
    }
    process.stdout.write(
      `wrote ${out} (gateway ${id}, mode 0600: it holds the mesh key)\n\nnext:\n` +
        `  1. at the cloud:  fieldmesh cloud add-gateway ${id} --config cloud.yaml   # prints this gateway's uplink password and signing key once\n` +
        (typeof flags.uplink === 'string'
          ? `  2. export FM_UPLINK_PASSWORD=<that password> FM_UPLINK_SIGNING_KEY=<that signing key>   (the uplink to ${flags.uplink} reads them at start)\n`
          : `  2. in ${out}: uncomment the uplink block and set its url (or run init again with --uplink mqtt://CLOUD_HOST:1884); export FM_UPLINK_PASSWORD and FM_UPLINK_SIGNING_KEY\n`) +
        `  3. fieldmesh gateway add-device DEVICE_ID --config ${out}   # once per device; prints its password once\n` +
        `  4. fieldmesh gateway --config ${out}\n` +
        `more gateways at this site: fieldmesh init gateway --id OTHER_ID --mesh-key '${meshKey}'\n`,
    );
    return 0;
  },
};

export default init;
