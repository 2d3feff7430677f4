import { parseFlags, UsageError, type Command } from '../command.js';
import { gatewayTarget, readGatewayApi } from '../gateway-api.js';
import { count, table } from '../human-format.js';

const help = `usage: fieldmesh members [--url URL] [--json] [--all]

Lists the mesh members a running gateway knows, read from its GET /api/members.
  --url URL   the gateway's HTTP address (default http://127.0.0.1:8081)
  --json      print the raw JSON
  --all       include members that left or died long ago (default: all states are shown
              except 'left')
Exit code 1 when the gateway cannot be reached or runs without a mesh.
`;

interface MemberRow {
  id: string;
  address: string;
  state: string;
  incarnation: number;
  self: boolean;
  meta: { role?: string; version?: string; uplink?: string; backlog?: number } | null;
}

const members: Command = {
  name: 'members',
  summary: 'list the mesh members a running gateway sees (GET /api/members)',
  help,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, { url: 'string', json: 'boolean', all: 'boolean' });
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    const text = await readGatewayApi('members', flags.url, '/api/members');
    if (text === undefined) return 1;
    if (flags.json) {
      process.stdout.write(text + '\n');
      return 0;
    }
    let body: { members?: MemberRow[] };
    try {
      body = JSON.parse(text) as { members?: MemberRow[] };
    } catch {
      process.stderr.write(`fieldmesh members: ${gatewayTarget(flags.url, '/api/members').href} did not answer JSON\n`);
      return 1;
    }
    const rows = (body.members ?? []).filter((m) => flags.all || m.state !== 'left');
    process.stdout.write(
      table(
        [
          ['ID', 'ADDRESS', 'STATE', 'INC', 'ROLE', 'VERSION', 'UPLINK', 'BACKLOG'],
          ...rows.map((m) => [
            m.self ? `${m.id} (self)` : m.id,
            m.address,
            m.state,
            String(m.incarnation),
            m.meta?.role ?? '-',
            m.meta?.version || '-',
            m.meta?.uplink ?? '-',
            m.meta?.backlog === undefined ? '-' : count(m.meta.backlog),
          ]),
        ],
        [3, 7],
      ),
    );
    const alive = rows.filter((m) => m.state === 'alive').length;
    process.stdout.write(`${alive} alive of ${rows.length}\n`);
    return 0;
  },
};

export default members;
