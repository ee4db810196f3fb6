/**
 * Ceiling (3): the bare rate of the gateway's password check — the gateway's own hasher from
 * dist, so the figure follows its scrypt parameters — with `concurrency` checks in flight, in a
 * process forked with the gateway's UV_THREADPOOL_SIZE (scrypt runs on libuv's thread pool) and
 * GLIBC_TUNABLES (scrypt's memory on huge pages).
 */
import { hashPassword, verifyPassword } from '../../../apps/gateway/src/auth/password-hasher';
import { percentile } from '../load/load-job';

export interface ScryptJob {
  readonly concurrency: number;
  readonly durationSeconds: number;
  /** the gateway's P2_PASSWORD_SCRYPT_COST (log2 N), so that the ceiling hashes as the gateway's hashes were made */
  readonly cost: number;
}

export interface ScryptResult {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly failures: number;
}

async function measure(job: ScryptJob): Promise<ScryptResult> {
  const password = 'a bench password, as long as a passphrase';
  const stored = await hashPassword(password, job.cost);
  const latencies: number[] = [];
  let failures = 0;
  const started = performance.now();
  const deadline = started + job.durationSeconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      if (await verifyPassword(password, stored, job.cost)) latencies.push(performance.now() - t0);
      else failures++;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, loop));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), failures };
}

process.on('message', (job: ScryptJob) => {
  measure(job).then(
    (result) => process.send!({ result }),
    (error: Error) => process.send!({ error: error.stack ?? error.message }),
  );
});
process.on('disconnect', () => process.exit(0));
// the parent sends the job only once the listener above is in place (see callChild)
process.send!({ ready: true });
