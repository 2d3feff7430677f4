import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `${VAR}` substitution in config files, as Docker Compose and Telegraf users expect it, so
 * secrets come from the environment or a systemd credential instead of the YAML:
 *
 * - `${VAR}`: the variable's value; unset is an error.
 * - `${VAR:-default}`: `default` when VAR is unset or empty.
 * - `${VAR:?message}`: refuse to start with `message` when VAR is unset or empty.
 * - `$${`: a literal `${`.
 *
 * A variable not in the environment is looked up as a systemd credential
 * (`$CREDENTIALS_DIRECTORY/VAR`, from `LoadCredential=VAR:/path`), trailing newline dropped.
 * Substitution runs on the parsed YAML document, scalar by scalar, so an error names the key
 * path, and a plain (unquoted) scalar that is one substitution takes the type of its expansion
 * (`port: ${PORT}` is a number; `"${PORT}"` stays a string). Expansions are never parsed as
 * YAML structure: a hostile variable cannot add keys.
 */
export interface ConfigEnv {
  /** The variable, or undefined when unset. */
  get(name: string): string | undefined;
}

/** The process environment, then systemd credentials. */
export function processConfigEnv(env: NodeJS.ProcessEnv = process.env): ConfigEnv {
  return {
    get(name) {
      const v = env[name];
      if (v !== undefined) return v;
      const dir = env.CREDENTIALS_DIRECTORY;
      if (!dir) return undefined;
      try {
        return readFileSync(join(dir, name), 'utf8').replace(/\r?\n$/, '');
      } catch {
        return undefined;
      }
    },
  };
}

/** A config value could not be substituted: `path` is the key, `variable` the variable (or null for bad syntax). */
export class ConfigEnvError extends Error {
  override name = 'ConfigEnvError';
  constructor(
    readonly path: string,
    readonly variable: string | null,
    message: string,
  ) {
    super(message);
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Expands one string. Returns `whole` when the string was exactly one `${…}`. */
export function expandConfigString(text: string, path: string, env: ConfigEnv): { value: string; whole: boolean } {
  if (!text.includes('${')) return { value: text, whole: false };
  let out = '';
  let i = 0;
  let count = 0;
  let literal = false;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      literal = true;
      continue;
    }
    if (!text.startsWith('${', i)) {
      out += text[i++];
      continue;
    }
    const end = text.indexOf('}', i + 2);
    if (end === -1) throw new ConfigEnvError(path, null, `unclosed \${ in ${JSON.stringify(text.slice(i, i + 40))}; write $\${ for a literal \${`);
    const body = text.slice(i + 2, end);
    const op = /:[-?]/.exec(body);
    const name = op ? body.slice(0, op.index) : body;
    if (!NAME.test(name)) throw new ConfigEnvError(path, null, `\${${body}} is not a variable reference (\${NAME}, \${NAME:-default}, \${NAME:?message})`);
    const value = env.get(name);
    const empty = value === undefined || value === '';
    if (op?.[0] === ':-') {
      out += empty ? body.slice(op.index + 2) : value;
    } else if (op?.[0] === ':?') {
      if (empty) throw new ConfigEnvError(path, name, `${name} is not set: ${body.slice(op.index + 2) || 'it is required'}`);
      out += value;
    } else {
      if (value === undefined) throw new ConfigEnvError(path, name, `environment variable ${name} is not set (set it, or write \${${name}:-default})`);
      out += value;
    }
    count++;
    i = end + 1;
  }
  return { value: out, whole: count === 1 && !literal && /^\$\{[^}]*\}$/.test(text) };
}

/** A plain scalar's expansion as YAML would read it: a number, true/false or null; else the string. */
function plainScalar(s: string): unknown {
  if (/^[-+]?(\d+|\d*\.\d+|\d+\.\d*)([eE][-+]?\d+)?$/.test(s) || /^0x[0-9a-fA-F]+$/.test(s)) return Number(s);
  if (s === 'true' || s === 'false') return s === 'true';
  if (s === 'null' || s === '~' || s === '') return null;
  return s;
}

/** The parts of a `yaml` Document this needs (structural, so the SDK does not depend on the yaml package). */
interface YamlNode {
  items?: unknown[];
  key?: unknown;
  value?: unknown;
  type?: string;
}

/**
 * Substitutes every string scalar of a parsed `yaml` Document in place (call before `toJS`).
 * Throws ConfigEnvError naming the key path (`uplink.password`, `serial[0].path`). `only`: just
 * the keys it accepts (a command that needs one key must not need every secret of the file).
 */
export function substituteConfigEnv(doc: { contents: unknown }, env: ConfigEnv = processConfigEnv(), only?: (path: string) => boolean): void {
  const visit = (node: unknown, path: string): void => {
    if (node === null || typeof node !== 'object') return;
    const n = node as YamlNode;
    if (Array.isArray(n.items)) {
      n.items.forEach((item, i) => {
        const pair = item as YamlNode;
        if (pair && typeof pair === 'object' && 'key' in pair && 'value' in pair) {
          const k = (pair.key as YamlNode | null)?.value ?? pair.key;
          visit(pair.value, path ? `${path}.${String(k)}` : String(k));
        } else {
          visit(item, `${path}[${i}]`);
        }
      });
      return;
    }
    if (typeof n.value === 'string' && 'type' in n && (only === undefined || only(path))) {
      const { value, whole } = expandConfigString(n.value, path, env);
      n.value = whole && n.type === 'PLAIN' ? plainScalar(value) : value;
    }
  };
  visit(doc.contents, '');
}
