/**
 * Ceiling (4): the crypto-only issue rate of libs/polyproto (CSR PEM in → signed cert PEM out, one
 * core), with the code of `npm run bench:polyproto`, in a process of its own.
 */
import { measureIssueRates, type IssueBenchOptions } from '../../../libs/polyproto/bench/issue.bench';

process.on('message', (options: IssueBenchOptions) => {
  try {
    process.send!({ result: measureIssueRates(options) });
  } catch (error) {
    process.send!({ error: (error as Error).stack ?? String(error) });
  }
});
process.on('disconnect', () => process.exit(0));
// the parent sends the job only once the listener above is in place (see callChild)
process.send!({ ready: true });
