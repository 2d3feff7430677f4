import { sha256OfFile } from '@fieldmesh/device-sdk/file-digest';
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { isReleaseVersion, type ReleaseBody } from '@fieldmesh/protocol';
import type { Clock } from '@fieldmesh/device-sdk';
import { CliError } from '../errors.js';

/** Where `npm run bundle` puts the manifest inside the tarball (hardware/src/image/IMAGE.md). */
const MANIFEST_PATH = 'fieldmesh/bundle-manifest.json';
/** A manifest is ~1 KiB; tar stops being read past this (a hostile or wrong archive). */
const MAX_MANIFEST_BYTES = 64 * 1024;

export interface BundleFacts {
  version: string;
  commit: string;
  machine: string;
  nodeAbi: string;
  sha256: string;
  bytes: number;
}

function bundleError(detail: string): CliError {
  return new CliError('FM_ERR_CLI_FLEET_BUNDLE', detail);
}

/** The manifest's text, read by the system's tar without unpacking anything to disk. */
function manifestText(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tar', ['-xzOf', path, MANIFEST_PATH], { maxBuffer: MAX_MANIFEST_BYTES, timeout: 120_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'tar is not installed' : (err as { code?: unknown }).code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' ? `${MANIFEST_PATH} is over ${MAX_MANIFEST_BYTES} bytes` : stderr.trim().split('\n').slice(0, 2).join('; ') || err.message;
        reject(bundleError(`--bundle ${path}: cannot read ${MANIFEST_PATH} from it (${why}); is it a bundle made by npm run bundle?`));
      } else resolve(stdout);
    });
  });
}

const field = (m: Record<string, unknown>, key: string, path: string): string => {
  const v = m[key];
  if (typeof v !== 'string' || v.length === 0) throw bundleError(`--bundle ${path}: ${MANIFEST_PATH} has no "${key}"`);
  // The signed body takes these as short tokens (protocol fleet-artifact): refused here, before signing.
  if (!/^[A-Za-z0-9._+-]{1,64}$/.test(v)) throw bundleError(`--bundle ${path}: ${MANIFEST_PATH} "${key}" is ${JSON.stringify(v.slice(0, 80))}, not a short token (letters, digits, . _ + -)`);
  return v;
};

/**
 * What the release envelope says about a bundle: its manifest's version, commit, machine and Node
 * ABI, and the tarball's own SHA-256 and size. `version` is what the operator asked for: a bundle
 * of another version is refused here, before anything is uploaded.
 */
export async function readBundle(path: string, version: string): Promise<BundleFacts> {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw bundleError(`--bundle ${path} is not a file`);
    size = st.size;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw bundleError(`--bundle ${path} cannot be read: ${(err as Error).message}`);
  }
  const text = await manifestText(path);
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw bundleError(`--bundle ${path}: ${MANIFEST_PATH} is not JSON`);
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw bundleError(`--bundle ${path}: ${MANIFEST_PATH} is not a JSON object`);
  const manifest = m as Record<string, unknown>;
  const found = field(manifest, 'version', path);
  if (!isReleaseVersion(found)) throw bundleError(`--bundle ${path}: manifest version "${found}" is not MAJOR.MINOR.PATCH`);
  if (found !== version) throw bundleError(`--bundle ${path} is version ${found}, not ${version}: pass the bundle of ${version}, or set-version ${found}`);
  return {
    version: found,
    commit: field(manifest, 'commit', path),
    machine: field(manifest, 'machine', path),
    nodeAbi: field(manifest, 'nodeAbi', path),
    sha256: await sha256OfFile(path),
    bytes: size,
  };
}

/** The release body the key signs; `createdAt` from the injected clock. */
export function releaseBody(b: BundleFacts, clock: Clock): ReleaseBody {
  return { kind: 'release', version: b.version, sha256: b.sha256, bytes: b.bytes, commit: b.commit, machine: b.machine, nodeAbi: b.nodeAbi, createdAt: new Date(clock.now()).toISOString() };
}
