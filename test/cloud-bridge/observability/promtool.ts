import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PROMTOOL = '/usr/bin/promtool';

/**
 * `promtool check metrics` (Debian `prometheus`, listed in .ci/apt-packages) on an exposition:
 * the parser and linter Prometheus itself uses. Fails loudly when promtool is not installed.
 */
export function promtoolCheck(text: string): { ok: boolean; output: string } {
  if (!existsSync(PROMTOOL)) {
    const msg = `\n\n*** ${PROMTOOL} is missing: the /metrics tests need Debian's prometheus package (listed in .ci/apt-packages; apt-get install -y prometheus) ***\n\n`;
    console.error(msg);
    throw new Error(msg);
  }
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** The value of one sample line `name{labels} value`, labels given in their exposition order; undefined when absent. */
export function sample(text: string, line: string): number | undefined {
  const esc = line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^${esc} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}
