import { readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { FIXED_CONFIG_SECTIONS, MAX_ARTIFACT_BYTES, type ConfigBody } from '@fieldmesh/protocol';
import type { Clock } from '@fieldmesh/device-sdk';
import { CliError } from '../errors.js';

/** A signed body is at most MAX_ARTIFACT_BYTES; the rest of the body (revision, note, times) fits in 2 KiB. */
const MAX_SECTIONS_JSON_BYTES = MAX_ARTIFACT_BYTES - 2048;
const MAX_FILE_BYTES = 256 * 1024;

function configError(detail: string): CliError {
  return new CliError('FM_ERR_CLI_FLEET_CONFIG_FILE', detail);
}

/** The top-level sections of a revision file: a YAML mapping whose keys are gateway.yaml sections. */
export function readConfigSections(path: string): Record<string, unknown> {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw configError(`--file ${path} is not a file`);
    if (st.size > MAX_FILE_BYTES) throw configError(`--file ${path} is ${st.size} bytes; a revision is at most ${MAX_SECTIONS_JSON_BYTES} bytes as JSON`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw configError(`--file ${path} cannot be read: ${(err as Error).message}`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw configError(`--file ${path} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  let data: unknown;
  try {
    // Aliases bounded: a "billion laughs" file must not expand into gigabytes here.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw configError(`--file ${path}: ${(err as Error).message}`);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw configError(`--file ${path} must be a YAML mapping of gateway.yaml sections (rules:, uplink:, …), not ${Array.isArray(data) ? 'a list' : typeof data === 'object' ? 'empty' : 'a ' + typeof data}`);
  const sections = data as Record<string, unknown>;
  const keys = Object.keys(sections);
  if (keys.length === 0) throw configError(`--file ${path} sets no section`);
  // Who the gateway is, where its data lives and whom it trusts for updates stay with the base
  // gateway.yaml (gateways refuse them as `section-not-allowed`): refused before signing.
  const refused = keys.filter((k) => FIXED_CONFIG_SECTIONS.has(k));
  if (refused.length > 0) throw configError(`--file ${path} sets ${refused.join(', ')}: a revision may not set ${[...FIXED_CONFIG_SECTIONS].join(', ')}; those stay in each gateway's own gateway.yaml`);
  const size = Buffer.byteLength(JSON.stringify(sections));
  if (size > MAX_SECTIONS_JSON_BYTES) throw configError(`--file ${path} is ${size} bytes as JSON; a revision is at most ${MAX_SECTIONS_JSON_BYTES} (it travels in the desired-state message)`);
  return sections;
}

export function configBody(revision: number, sections: Record<string, unknown>, clock: Clock, note?: string): ConfigBody {
  return { kind: 'config', revision, sections, createdAt: new Date(clock.now()).toISOString(), ...(note ? { note } : {}) };
}
