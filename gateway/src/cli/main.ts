import { commands } from './commands/index.js';
import { UsageError } from './command.js';

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'fieldmesh: edge and IoT mesh runtime for sensor gateways',
    '',
    'usage: fieldmesh <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'Run `fieldmesh <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(overview() + '\n');
    return name === undefined ? 2 : 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`fieldmesh: unknown command '${name}'\n\n${overview()}\n`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fieldmesh ${name}: ${err.message}\nRun \`fieldmesh ${name} --help\` for usage.\n`);
      return 2;
    }
    const e = err as { code?: string; message?: string };
    process.stderr.write(`fieldmesh ${name}: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
    return 1;
  }
}
