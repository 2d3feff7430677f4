import { readFileSync, statSync } from 'node:fs';
import { fixedSectionIn, verifyArtifact, type ConfigBody } from '@fieldmesh/protocol';
import { parseGatewayConfig, type GatewayConfig, type GatewayConfigSource } from '../config/gateway-config.js';
import { isMapping } from '../config/checks.js';
import { FleetError } from './errors.js';

/**
 * A config revision applied over the base config (`fieldmesh gateway --config-overlay FILE`):
 * each section of the signed envelope replaces that whole top-level section of the base file;
 * the rest stays. The result is validated as a whole by the real loader, the same check the agent
 * runs before it ever switches to a revision.
 */
const MAX_OVERLAY_BYTES = 128 * 1024;


/** The base data with `sections` put in place of its top-level sections. */
function overlaid(base: unknown, sections: Record<string, unknown>): Record<string, unknown> {
  return { ...(isMapping(base) ? base : {}), ...structuredClone(sections) };
}

/** The effective config of base + `sections`; throws the loader's ConfigError when it is not valid. */
function effectiveConfig(source: GatewayConfigSource, sections: Record<string, unknown>): Readonly<GatewayConfig> {
  return parseGatewayConfig(overlaid(source.data, sections), source.baseDir);
}

/** What the agent asks before switching: null when base + sections is a valid config, else why. */
export function configChecker(source: GatewayConfigSource): (sections: Record<string, unknown>) => string | null {
  return (sections) => {
    try {
      effectiveConfig(source, sections);
      return null;
    } catch (err) {
      return (err as Error).message.slice(0, 500);
    }
  };
}

/**
 * Reads and checks an overlay file against the base config's own release keys (the state
 * directory could have been written by anyone who got at the disk). Throws FleetError
 * FM_ERR_FLEET_OVERLAY naming what is wrong.
 */
export function loadOverlay(file: string, source: GatewayConfigSource, base: Readonly<GatewayConfig>): { config: Readonly<GatewayConfig>; revision: number } {
  const fail = (why: string) => new FleetError('FM_ERR_FLEET_OVERLAY', `--config-overlay ${file}: ${why}`);
  if (base.fleet === null) throw fail('the base config has no fleet section (no release keys to check it with)');
  let raw: unknown;
  try {
    const st = statSync(file);
    if (!st.isFile() || st.size > MAX_OVERLAY_BYTES) throw fail(st.isFile() ? `${st.size} bytes, at most ${MAX_OVERLAY_BYTES}` : 'not a regular file');
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    if (err instanceof FleetError) throw err;
    throw fail((err as Error).message);
  }
  const check = verifyArtifact<ConfigBody>(raw, 'config', base.fleet.releaseKeys);
  if (!check.ok) throw fail(`${check.reason}: ${check.why}`);
  const fixed = fixedSectionIn(check.body);
  if (fixed !== null) throw fail(`a config revision may not set ${fixed}`);
  try {
    return { config: effectiveConfig(source, check.body.sections), revision: check.body.revision };
  } catch (err) {
    throw fail(`revision ${check.body.revision} makes the config invalid: ${(err as Error).message}`);
  }
}
