/**
 * Throwaway certificates for TLS tests, made with the `openssl` command in a temp dir: a CA, and one certificate per
 * name (CN = the name, SAN 127.0.0.1 and localhost, usable as server and client). EC P-256 keys, valid for a day.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertificateFiles {
  readonly dir: string;
  readonly ca: string;
  /** name -> { cert, key } paths */
  readonly certs: Readonly<Record<string, { readonly cert: string; readonly key: string }>>;
}

const openssl = (dir: string, args: string[]): void => {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
};

export function makeCertificates(names: readonly string[], caName = 'xraft-test-ca'): CertificateFiles {
  const dir = mkdtempSync(join(tmpdir(), 'xraft-certs-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', `/CN=${caName}`, '-days', '1']);
  writeFileSync(
    join(dir, 'leaf.ext'),
    'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  const certs: Record<string, { cert: string; key: string }> = {};
  for (const name of names) {
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', 'leaf.ext']);
    certs[name] = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  }
  return { dir, ca: join(dir, 'ca.crt'), certs };
}
