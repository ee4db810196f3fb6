import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The `openssl` command line: the independent implementation our certificates are checked against. */
export function openssl(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const result = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function withTempDir<T>(work: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'p2-openssl-'));
  try {
    return work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface OpensslCsr {
  readonly csrPem: string;
  readonly keyPem: string;
}

/** An ID-CSR made by OpenSSL: Ed25519 key, subject in OpenSSL's conventional order, capabilities in
 * a standard extensionRequest. `subject` overrides the whole -subj string. */
export function opensslCsr(options: {
  localName: string;
  domain: string;
  sessionId: string;
  subject?: string;
  keyUsage?: string;
  basicConstraints?: string;
}): OpensslCsr {
  return withTempDir((dir) => {
    const key = join(dir, 'key.pem');
    const csr = join(dir, 'csr.pem');
    const gen = openssl(['genpkey', '-algorithm', 'ed25519', '-out', key]);
    if (gen.status !== 0) throw new Error(gen.stderr);
    const dcs = options.domain
      .split('.')
      .reverse()
      .map((label) => `/DC=${label}`)
      .join('');
    const subject =
      options.subject ??
      `${dcs}/CN=${options.localName}/UID=${options.localName}@${options.domain}/0.9.2342.19200300.100.1.44=${options.sessionId}`;
    const req = openssl([
      'req',
      '-new',
      '-key',
      key,
      '-subj',
      subject,
      '-addext',
      `keyUsage=${options.keyUsage ?? 'critical,digitalSignature'}`,
      '-addext',
      `basicConstraints=${options.basicConstraints ?? 'critical,CA:FALSE'}`,
      '-out',
      csr,
    ]);
    if (req.status !== 0) throw new Error(req.stderr);
    return { csrPem: readFileSync(csr, 'utf8'), keyPem: readFileSync(key, 'utf8') };
  });
}

/** `openssl verify -CAfile root cert`: 0 when the chain verifies. */
export function opensslVerify(rootPem: string, certPem: string): { status: number; output: string } {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'root.pem'), rootPem);
    writeFileSync(join(dir, 'cert.pem'), certPem);
    const result = openssl(['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'cert.pem')]);
    return { status: result.status, output: result.stdout + result.stderr };
  });
}

export function opensslText(certPem: string): string {
  const result = openssl(['x509', '-noout', '-text'], certPem);
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout;
}

/** `openssl pkeyutl -verify -rawin` of an Ed25519 `signature` over `payload`, under the public key
 * OpenSSL itself takes out of `certPem` (`openssl x509 -pubkey`): 0 when the signature verifies. */
export function opensslVerifySignature(certPem: string, payload: Buffer, signature: Buffer): { status: number; output: string } {
  return withTempDir((dir) => {
    const key = openssl(['x509', '-pubkey', '-noout'], certPem);
    if (key.status !== 0) throw new Error(key.stderr);
    writeFileSync(join(dir, 'key.pem'), key.stdout);
    writeFileSync(join(dir, 'payload.bin'), payload);
    writeFileSync(join(dir, 'sig.bin'), signature);
    const result = openssl(['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', join(dir, 'key.pem'), '-in', join(dir, 'payload.bin'), '-sigfile', join(dir, 'sig.bin')]);
    return { status: result.status, output: result.stdout + result.stderr };
  });
}
