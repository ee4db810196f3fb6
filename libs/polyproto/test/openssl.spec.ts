/**
 * Cross-checks against an independent implementation: the OpenSSL command line. CSRs made by
 * `openssl req` are accepted or refused as the rules say; certificates we issue pass
 * `openssl verify` and print the expected fields.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildIdCsr,
  createHomeServerRootCert,
  ed25519SignerFromPrivateKey,
  issueActorIdCert,
  MAX_ISSUED_SERIAL,
  randomSerial,
  readIdCert,
  readIdCsr,
  type Ed25519Signer,
} from '@p2/polyproto';
import { ext, extensions, makeRootCert } from './fixtures/cert-factory';
import { OID, pem } from './fixtures/csr-factory';
import { hex } from './fixtures/der';
import { expectPolyprotoError } from './fixtures/expect-error';
import { randomKey, type TestKey } from './fixtures/keys';

const dir = mkdtempSync(join(tmpdir(), 'polyproto-openssl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[], input?: string): string {
  const r = spawnSync('openssl', args, { cwd: dir, input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

function writeKey(name: string, key: TestKey): string {
  const file = join(dir, name);
  writeFileSync(file, key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  return file;
}

const SID_OID = '0.9.2342.19200300.100.1.44';
const GOOD_SUBJ = `/DC=com/DC=example/CN=alice/UID=alice@example.com/${SID_OID}=sess1`;
const DS_EXT = ['keyUsage=critical,digitalSignature', 'basicConstraints=critical,CA:FALSE'];
const actorKey = randomKey();
const actorKeyFile = writeKey('actor.key.pem', actorKey);

function opensslCsr(subj: string, addext: string[], keyFile = actorKeyFile): string {
  return openssl(['req', '-new', '-key', keyFile, '-subj', subj, ...addext.flatMap((e) => ['-addext', e])]);
}

const policy = { domain: 'example.com', actorLocalName: 'alice' };

describe('CSRs made by openssl req', () => {
  it('accepts keyUsage=critical,digitalSignature + basicConstraints=critical,CA:FALSE (extensionRequest encoding)', () => {
    const csr = readIdCsr(opensslCsr(GOOD_SUBJ, DS_EXT), policy);
    expect(csr.federationId.toString()).toBe('alice@example.com');
    expect(csr.sessionId).toBe('sess1');
    expect(csr.capabilities.digitalSignature).toBe(true);
    expect(Buffer.from(csr.publicKey).equals(actorKey.publicKey)).toBe(true);
  });

  it('accepts keyUsage=critical,nonRepudiation as contentCommitment, and keyUsage without basicConstraints', () => {
    expect(readIdCsr(opensslCsr(GOOD_SUBJ, ['keyUsage=critical,nonRepudiation']), policy).capabilities.contentCommitment).toBe(true);
    expect(readIdCsr(opensslCsr(GOOD_SUBJ, ['keyUsage=digitalSignature']), policy).capabilities.digitalSignature).toBe(true);
  });

  it('refuses keyUsage with keyCertSign', () => {
    expectPolyprotoError(() => readIdCsr(opensslCsr(GOOD_SUBJ, ['keyUsage=critical,digitalSignature,keyCertSign']), policy), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });

  it('refuses CA:TRUE', () => {
    expectPolyprotoError(
      () => readIdCsr(opensslCsr(GOOD_SUBJ, ['keyUsage=critical,digitalSignature', 'basicConstraints=critical,CA:TRUE']), policy),
      'CSR_CAPABILITIES_INVALID',
      'attributes.basicConstraints',
    );
  });

  it('refuses digitalSignature + nonRepudiation together', () => {
    expectPolyprotoError(() => readIdCsr(opensslCsr(GOOD_SUBJ, ['keyUsage=critical,digitalSignature,nonRepudiation']), policy), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });

  it('refuses a CSR without any keyUsage', () => {
    expectPolyprotoError(() => readIdCsr(opensslCsr(GOOD_SUBJ, []), policy), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });

  it('refuses a missing CN', () => {
    expectPolyprotoError(() => readIdCsr(opensslCsr(`/DC=com/DC=example/UID=alice@example.com/${SID_OID}=sess1`, DS_EXT), policy), 'CSR_NAME_INVALID', 'subject.commonName');
  });

  it('refuses CN = full federation ID', () => {
    expectPolyprotoError(
      () => readIdCsr(opensslCsr(`/DC=com/DC=example/CN=alice@example.com/UID=alice@example.com/${SID_OID}=sess1`, DS_EXT), policy),
      'CSR_NAME_INVALID',
      'subject.commonName',
    );
  });

  it('refuses DCs in the wrong order and an uppercase UID', () => {
    expectPolyprotoError(() => readIdCsr(opensslCsr(`/DC=example/DC=com/CN=alice/UID=alice@example.com/${SID_OID}=sess1`, DS_EXT), policy), 'CSR_NAME_INVALID', 'subject.domainComponent');
    expectPolyprotoError(() => readIdCsr(opensslCsr(`/DC=com/DC=example/CN=Alice/UID=Alice@example.com/${SID_OID}=sess1`, DS_EXT), policy), 'CSR_NAME_INVALID', 'subject.uid');
  });

  it('refuses a missing session ID (uniqueIdentifier)', () => {
    expectPolyprotoError(() => readIdCsr(opensslCsr('/DC=com/DC=example/CN=alice/UID=alice@example.com', DS_EXT), policy), 'CSR_NAME_INVALID', 'subject.uniqueIdentifier');
  });

  it('refuses an ECDSA P-256 CSR', () => {
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.key.pem']);
    expectPolyprotoError(() => readIdCsr(opensslCsr(GOOD_SUBJ, DS_EXT, join(dir, 'ec.key.pem')), policy), 'CSR_ALGORITHM_UNSUPPORTED', 'signatureAlgorithm');
  });

  it('our own buildIdCsr output passes openssl req -verify', () => {
    const signer = ed25519SignerFromPrivateKey(randomKey().privateKey);
    writeFileSync(join(dir, 'ours.csr.pem'), buildIdCsr({ signer, federationId: 'alice@example.com', sessionId: 'sess1' }).pem);
    expect(openssl(['req', '-in', 'ours.csr.pem', '-verify', '-noout'])).toMatch(/verify OK|self-signature ok/i);
  });
});

describe('certificates we issue, checked by openssl', () => {
  const rootKey = randomKey();
  const rootSigner: Ed25519Signer = ed25519SignerFromPrivateKey(rootKey.privateKey);
  const at = String(Date.parse('2025-06-01T12:00:00Z') / 1000);
  const rootArgs = { domain: 'example.com', serial: 1n, notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z'), signer: rootSigner };
  const root = createHomeServerRootCert(rootArgs);
  writeFileSync(join(dir, 'root.pem'), root.pem);

  function issueFromOpenssl(extsForCsr: string[], file: string): void {
    const csr = readIdCsr(opensslCsr(GOOD_SUBJ, extsForCsr), policy);
    const cert = issueActorIdCert({
      csr,
      issuerSubjectDer: root.subjectDer,
      serial: 4242n,
      notBefore: new Date('2025-06-01T00:00:00Z'),
      notAfter: new Date('2025-07-01T00:00:00Z'),
      signer: rootSigner,
    });
    writeFileSync(join(dir, file), cert.pem);
  }

  // several tests read actor.pem: each must run alone (jest -t) as well as after the others
  beforeAll(() => issueFromOpenssl(DS_EXT, 'actor.pem'));

  it('an actor cert issued from an openssl CSR passes openssl verify -CAfile root.pem', () => {
    expect(openssl(['verify', '-CAfile', 'root.pem', '-attime', at, 'actor.pem'])).toContain('actor.pem: OK');
  });

  it('openssl x509 -text shows v3, Ed25519, critical CA:FALSE and critical Digital Signature', () => {
    const text = openssl(['x509', '-in', 'actor.pem', '-text', '-noout']);
    expect(text).toContain('Version: 3 (0x2)');
    expect(text).toContain('Serial Number: 4242');
    expect(text).toMatch(/Signature Algorithm: ED25519/);
    expect(text).toMatch(/Public Key Algorithm: ED25519/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toContain('Issuer: DC = com, DC = example');
    expect(text).not.toMatch(/Key Identifier/);
  });

  it('a contentCommitment actor cert shows Non Repudiation and verifies', () => {
    issueFromOpenssl(['keyUsage=critical,nonRepudiation'], 'actor-cc.pem');
    expect(openssl(['x509', '-in', 'actor-cc.pem', '-text', '-noout'])).toMatch(/X509v3 Key Usage: critical\s+Non Repudiation/);
    expect(openssl(['verify', '-CAfile', 'root.pem', '-attime', at, 'actor-cc.pem'])).toContain('OK');
  });

  it('the root shows CA:TRUE and Digital Signature, Certificate Sign and verifies itself', () => {
    const text = openssl(['x509', '-in', 'root.pem', '-text', '-noout']);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign/);
    expect(text).toContain('Subject: DC = com, DC = example');
    expect(openssl(['verify', '-CAfile', 'root.pem', '-attime', at, 'root.pem'])).toContain('OK');
  });

  it('random serials read back by openssl x509 -serial and openssl asn1parse as the same positive integer', () => {
    for (const serial of [randomSerial(), randomSerial(), MAX_ISSUED_SERIAL, 2n ** 63n]) {
      const cert = createHomeServerRootCert({ ...rootArgs, serial });
      writeFileSync(join(dir, 'serial.pem'), cert.pem);
      const printed = /serial=([0-9A-F]+)/.exec(openssl(['x509', '-in', 'serial.pem', '-noout', '-serial']))?.[1];
      expect(printed).toBeDefined();
      expect(BigInt(`0x${printed}`)).toBe(serial);
      // asn1parse prints the INTEGER as openssl decodes it: a negative one would show a minus sign
      const parsed = openssl(['asn1parse', '-in', 'serial.pem']).split('\n').find((line) => line.includes('INTEGER') && /d=2/.test(line));
      const decoded = /INTEGER\s+:(-?)([0-9A-F]+)$/.exec(parsed ?? '');
      expect(decoded?.[1]).toBe('');
      expect(BigInt(`0x${decoded?.[2]}`)).toBe(serial);
      expect(openssl(['verify', '-CAfile', 'serial.pem', '-attime', at, 'serial.pem'])).toContain('OK');
    }
  });

  it('openssl refuses a cert outside its validity (-attime after notAfter)', () => {
    const r = spawnSync('openssl', ['verify', '-CAfile', 'root.pem', '-attime', String(Date.parse('2025-08-01T00:00:00Z') / 1000), 'actor.pem'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/expired/);
  });

  it('the pathLenZero root shows pathlen:0 and still verifies an actor cert', () => {
    const strict = createHomeServerRootCert({ ...rootArgs, pathLenZero: true });
    writeFileSync(join(dir, 'root0.pem'), strict.pem);
    expect(openssl(['x509', '-in', 'root0.pem', '-text', '-noout'])).toMatch(/CA:TRUE, pathlen:0/);
    expect(openssl(['verify', '-CAfile', 'root0.pem', '-attime', at, 'actor.pem'])).toContain('OK');
  });

  it('why pathLen is not the library’s 8-byte INTEGER: openssl cannot decode that basicConstraints and refuses the root', () => {
    const a0 = makeRootCert({ extensions: extensions(ext(OID.basicConstraints, hex('300d0101ff02080000000000000000')), ext(OID.keyUsage, hex('03020084'))) });
    writeFileSync(join(dir, 'a0.pem'), pem(a0.der, 'CERTIFICATE'));
    expect(openssl(['x509', '-in', 'a0.pem', '-text', '-noout'])).not.toMatch(/CA:TRUE/);
    const r = spawnSync('openssl', ['verify', '-CAfile', 'a0.pem', '-attime', String(Date.parse('2025-01-01T00:00:00Z') / 1000), 'a0.pem'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });
});

describe('certificates made by openssl, read by readIdCert', () => {
  const rootKey = randomKey();
  const rootKeyFile = writeKey('oroot.key.pem', rootKey);

  it('accepts an actor cert signed by openssl x509 -req with only critical BC and KU (standard encoding)', () => {
    const root = opensslRoot();
    writeFileSync(join(dir, 'a.csr.pem'), opensslCsr(GOOD_SUBJ, []));
    writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n');
    openssl(['x509', '-req', '-in', 'a.csr.pem', '-CA', root, '-CAkey', rootKeyFile, '-set_serial', '77', '-days', '10', '-extfile', 'ext.cnf', '-out', 'oactor.pem']);
    const cert = readIdCert(readFileSync(join(dir, 'oactor.pem'), 'utf8'), { target: 'actor', at: new Date(), issuerPublicKey: rootKey.publicKey });
    expect(cert.federationId?.toString()).toBe('alice@example.com');
    expect(cert.serial).toBe(77n);
  });

  it('refuses an openssl self-signed root, which carries subjectKeyIdentifier/authorityKeyIdentifier (case 42)', () => {
    const root = opensslRoot();
    expectPolyprotoError(() => readIdCert(readFileSync(join(dir, root), 'utf8'), { target: 'home-server' }), 'CERT_EXTENSIONS_INVALID', 'extensions');
  });

  function opensslRoot(): string {
    openssl([
      'req', '-new', '-x509', '-key', rootKeyFile, '-subj', '/DC=com/DC=example', '-days', '30',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign', '-out', 'oroot.pem',
    ]);
    return 'oroot.pem';
  }
});
