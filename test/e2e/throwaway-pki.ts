import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A throwaway PKI made with `openssl` (Debian `openssl`, listed in .ci/apt-packages) in a temp
 * dir at test time: keys are never committed. EC P-256 keys keep generation fast on a slow box.
 */
export interface Pki {
  dir: string;
  /** PEM file paths. */
  ca: string;
  serverCert: string;
  serverKey: string;
  /** A client certificate and key per name (CN = name) signed by `ca`. */
  client(name: string): { cert: string; key: string };
  /** A second, unrelated CA, and a client certificate it signed (CN = name). */
  rogueCa: string;
  rogueClient(name: string): { cert: string; key: string };
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'ENOENT') {
      console.error('\n\n!!! openssl is not installed: the TLS tests cannot run. apt-get install -y openssl !!!\n\n');
    }
    throw err;
  }
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`]);
}

function sign(dir: string, ca: string, name: string, cn: string, ext: string): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
}

export function makePki(dir: string): Pki {
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  sign(dir, 'ca', 'server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const made = new Set<string>();
  const client = (ca: string, prefix: string) => (name: string) => {
    const file = `${prefix}${name}`;
    if (!made.has(file)) {
      sign(dir, ca, file, name, 'extendedKeyUsage=clientAuth\n');
      made.add(file);
    }
    return { cert: join(dir, `${file}.pem`), key: join(dir, `${file}.key`) };
  };
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    client: client('ca', 'client-'),
    rogueCa: join(dir, 'rogue-ca.pem'),
    rogueClient: client('rogue-ca', 'rogue-'),
  };
}
