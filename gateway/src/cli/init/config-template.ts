/**
 * A config file as `fieldmesh init` writes it: every key with its default and a one-line why,
 * and optional parts (a serial line, a rule, the uplink) as commented-out examples. The tree is
 * data so a test can read the same tree the file was rendered from: it checks that the file
 * loads with the real config loader, that the commented examples do too once uncommented, and
 * that the keys at every level are exactly the keys the loader knows.
 */
export interface TemplateKey {
  key: string;
  /** One line: why the default is what it is, or what to change it for. */
  why: string;
  /** A scalar or a list of scalars (written in flow style); absent for a section. */
  value?: unknown;
  /** The keys of a section. */
  keys?: TemplateKey[];
  /** A list of mappings, each written as one block item. */
  items?: TemplateKey[][];
  /** Written commented out: an example to enable, not a default. */
  example?: boolean;
}

/** A YAML scalar or flow list. JSON is valid YAML, and quotes every string, so no value is misread. */
function scalar(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(scalar).join(', ')}]`;
  if (typeof v === 'string') return /^[A-Za-z0-9_./@:+-]+$/.test(v) && !/^(true|false|null|yes|no|on|off|~|[-+.\d].*)$/i.test(v) && !v.includes(': ') ? v : JSON.stringify(v);
  if (v === null) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

interface Line {
  indent: string;
  /** Commented out (an example, or inside one). */
  off: boolean;
  text: string;
  /** A key line (as opposed to a why line). */
  key: boolean;
}

function lines(keys: TemplateKey[], indent: string, uncomment: boolean, commented: boolean): Line[] {
  const out: Line[] = [];
  for (const k of keys) {
    const off = commented || (k.example === true && !uncomment);
    out.push({ indent, off: true, text: k.why, key: false });
    if (k.keys) {
      out.push({ indent, off, text: `${k.key}:`, key: true });
      out.push(...lines(k.keys, indent + '  ', uncomment, off));
    } else if (k.items) {
      out.push({ indent, off, text: `${k.key}:`, key: true });
      for (const item of k.items) {
        const body = lines(item, indent + '    ', uncomment, off);
        // The item's first key takes the `- ` of the block sequence.
        const at = body.findIndex((l) => l.key);
        const first = body[at]!;
        first.indent = indent + '  ';
        if (at > 0) body[at - 1]!.indent = indent + '  ';
        first.text = `- ${first.text}`;
        out.push(...body);
      }
    } else {
      out.push({ indent, off, text: `${k.key}: ${scalar(k.value)}`, key: true });
    }
  }
  return out;
}

function text(l: Line): string {
  return `${l.indent}${l.off ? '# ' : ''}${l.text}`;
}

/** The file's text. `uncomment`: examples written as live keys (what the test loads). */
export function renderTemplate(header: string[], keys: TemplateKey[], opts: { uncomment?: boolean } = {}): string {
  const top: string[] = [];
  for (const k of keys) top.push(...lines([k], '', opts.uncomment === true, false).map(text), '');
  return [...header.map((h) => (h ? `# ${h}` : '#')), '', ...top].join('\n');
}

/** The keys under a dotted path of the tree (examples included), for the key-coverage test. */
export function keysAt(keys: TemplateKey[], path: string[]): string[] | undefined {
  if (path.length === 0) return keys.map((k) => k.key);
  const k = keys.find((x) => x.key === path[0]);
  if (!k) return undefined;
  if (k.keys) return keysAt(k.keys, path.slice(1));
  if (k.items && /^\d+$/.test(path[1] ?? '')) return keysAt(k.items[Number(path[1])] ?? [], path.slice(2));
  return undefined;
}

/** Every section path of the tree (`broker`, `uplink`, `serial.0`), for the key-coverage test. */
export function sectionPaths(keys: TemplateKey[], prefix: string[] = []): string[][] {
  const out: string[][] = [prefix];
  for (const k of keys) {
    if (k.keys) out.push(...sectionPaths(k.keys, [...prefix, k.key]));
    if (k.items) k.items.forEach((item, i) => out.push(...sectionPaths(item, [...prefix, k.key, String(i)])));
  }
  return out;
}
