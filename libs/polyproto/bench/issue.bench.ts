/**
 * Issue-pipeline benchmark (issue 3): PEM ID-CSR in → every check → signed PEM ID-Cert out, on one
 * core, next to the raw node:crypto ceiling (one Ed25519 verify + one sign on pre-imported keys)
 * measured in the same run. Not a test: run with `npm run bench:polyproto`; `npm run bench` calls
 * measureIssueRates() for its crypto-only ceiling.
 */
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import {
  actorCertValidity,
  buildIdCsr,
  createHomeServerRootCert,
  ed25519SignerFromPrivateKey,
  issueActorIdCert,
  readIdCsr,
} from '@p2/polyproto';

const DOMAIN = 'bench.example.org';
const CSR_COUNT = 256;

/** How long to measure: best of `rounds` rounds of `roundMs` each, after `warmup` calls of each path. */
export interface IssueBenchOptions {
  readonly roundMs: number;
  readonly rounds: number;
  readonly warmup: number;
}

export const DEFAULT_ISSUE_BENCH: IssueBenchOptions = { roundMs: 1500, rounds: 3, warmup: 2000 };

/** Best rates per second on this core: raw node:crypto verify+sign, and the whole issue pipeline. */
export interface IssueRates {
  readonly raw: number;
  readonly pipeline: number;
  /** changes with every run; printed so that the work cannot be optimised away */
  readonly checksum: number;
}

interface Sample {
  csrPem: string;
  info: Buffer;
  signature: Buffer;
  publicKey: KeyObject;
}

function makeSamples(): Sample[] {
  const samples: Sample[] = [];
  for (let i = 0; i < CSR_COUNT; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const { der, pem } = buildIdCsr({
      signer: ed25519SignerFromPrivateKey(privateKey),
      federationId: `actor${i}@${DOMAIN}`,
      sessionId: `session-${i}`,
    });
    // CertificationRequestInfo and signature of the CSR, for the raw-crypto ceiling.
    const buf = Buffer.from(der);
    const infoLen = infoLength(buf);
    samples.push({ csrPem: pem, info: buf.subarray(infoLen.start, infoLen.end), signature: buf.subarray(buf.length - 64), publicKey });
  }
  return samples;
}

function infoLength(der: Buffer): { start: number; end: number } {
  const outerHeader = der[1] & 0x80 ? 2 + (der[1] & 0x7f) : 2;
  const lenByte = der[outerHeader + 1];
  const header = lenByte & 0x80 ? 2 + (lenByte & 0x7f) : 2;
  let len = lenByte;
  if (lenByte & 0x80) {
    len = 0;
    for (let i = 0; i < (lenByte & 0x7f); i++) len = len * 256 + der[outerHeader + 2 + i];
  }
  return { start: outerHeader, end: outerHeader + header + len };
}

function perSecond(fn: (i: number) => void, roundMs: number): number {
  const start = process.hrtime.bigint();
  const limit = BigInt(roundMs) * 1_000_000n;
  let n = 0;
  let elapsed = 0n;
  do {
    for (let k = 0; k < 50; k++) fn(n++);
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < limit);
  return (n * 1e9) / Number(elapsed);
}

/** Measures both rates in this process (one core). */
export function measureIssueRates(options: IssueBenchOptions = DEFAULT_ISSUE_BENCH): IssueRates {
  const rootKey = generateKeyPairSync('ed25519').privateKey;
  const signer = ed25519SignerFromPrivateKey(rootKey);
  const now = new Date();
  const root = createHomeServerRootCert({
    domain: DOMAIN,
    serial: 1n,
    notBefore: new Date(now.getTime() - 86_400_000),
    notAfter: new Date(now.getTime() + 365 * 86_400_000),
    signer,
  });
  const validity = actorCertValidity({ now, lifetimeDays: 30, rootNotBefore: root.notBefore, rootNotAfter: root.notAfter });
  const samples = makeSamples();
  const policy = { domain: DOMAIN };
  const tbsLike = Buffer.alloc(420, 7); // about the size of an actor TBSCertificate

  let sink = 0;
  const raw = (i: number): void => {
    const s = samples[i % CSR_COUNT];
    if (!verify(null, s.info, s.publicKey, s.signature)) throw new Error('raw verify failed');
    sink += sign(null, tbsLike, rootKey).length;
  };
  const pipeline = (i: number): void => {
    const s = samples[i % CSR_COUNT];
    const csr = readIdCsr(s.csrPem, policy);
    const cert = issueActorIdCert({ csr, issuerSubjectDer: root.subjectDer, serial: BigInt(i + 2), ...validity, signer });
    sink += cert.pem.length;
  };

  // warm-up: JIT both paths
  for (let i = 0; i < options.warmup; i++) {
    raw(i);
    pipeline(i);
  }
  let bestRaw = 0;
  let bestPipe = 0;
  for (let round = 0; round < options.rounds; round++) {
    bestRaw = Math.max(bestRaw, perSecond(raw, options.roundMs));
    bestPipe = Math.max(bestPipe, perSecond(pipeline, options.roundMs));
  }
  return { raw: bestRaw, pipeline: bestPipe, checksum: sink % 997 };
}

function main(): void {
  const { raw: bestRaw, pipeline: bestPipe, checksum } = measureIssueRates();
  const { rounds, roundMs } = DEFAULT_ISSUE_BENCH;
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
  console.log(`node ${process.version}, one core, best of ${rounds} rounds of ${roundMs} ms (checksum ${checksum})`);
  console.log(`raw node:crypto Ed25519 verify+sign : ${fmt(bestRaw)} /s`);
  console.log(`readIdCsr(PEM) → issueActorIdCert → PEM : ${fmt(bestPipe)} issues/s`);
  console.log(`ratio pipeline / raw crypto          : ${(bestPipe / bestRaw).toFixed(3)}`);
  console.log(bestPipe >= 5000 ? 'target ≥ 5,000 issues/s: met' : 'target ≥ 5,000 issues/s: NOT met');
}

if (require.main === module) main();
