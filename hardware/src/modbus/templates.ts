/**
 * Modbus device templates: register maps written once as YAML files in `hardware/modbus/` and
 * referenced by file name from the gateway config (`template: eastron-sdm120`). This module only
 * finds and reads them; the gateway parses and validates them with the same schema as an inline
 * register map, so a template and a config entry are held to the same rules.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/**
 * `hardware/modbus/`: two folders up from this file in the source tree and the compiled tree;
 * from `gateway/dist/` when the image bundle has bundled this module into the gateway command
 * (the bundle keeps the hardware workspace, templates included, beside it).
 */
export const MODBUS_TEMPLATE_DIR = [join(here, '..', '..', 'modbus'), join(here, '..', '..', 'hardware', 'modbus')].find((d) => existsSync(d)) ?? join(here, '..', '..', 'modbus');

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export interface ModbusTemplateText {
  name: string;
  file: string;
  text: string;
}

/** Template names (file names without `.yaml`), sorted. */
export function listModbusTemplates(dir = MODBUS_TEMPLATE_DIR): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.slice(0, -5))
      .filter((n) => NAME.test(n))
      .sort();
  } catch {
    return [];
  }
}

/** The template's YAML text, or undefined when there is no such template. */
export function readModbusTemplate(name: string, dir = MODBUS_TEMPLATE_DIR): ModbusTemplateText | undefined {
  if (!NAME.test(name)) return undefined;
  const file = join(dir, `${name}.yaml`);
  try {
    return { name, file, text: readFileSync(file, 'utf8') };
  } catch {
    return undefined;
  }
}
