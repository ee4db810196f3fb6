import { foreignSessionDecider, type ForeignSessionCommand, type ForeignSessionState } from '../src';
import { prng } from '../../polyproto/test/fixtures/prng';
import { expectAcceptedAndRefused, stepAgainstModel, type ModelExpectation } from './model-step';

const fid = 'alice@a.example';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface ModelCert {
  notBefore: number;
  notAfter: number;
  invalidated: boolean;
  cacheUntil: number;
  checkedAt: number;
}

/**
 * The rules of a foreign session written the plain way (docs/protocol.md#foreign-sessions,
 * #foreign-invalidation): the certs its home server vouched for, each with the time its statement
 * holds until; the session's current cert; at most one live token. A cert may be used while it is
 * known, not invalidated nor unlisted by its home server (which no later statement undoes), inside its validity, and vouched for
 * recently enough: inside its cache window, and after the last change of its domain's root. A
 * sign-in or an announcement may not go back to a cert that starts before the current one, unless
 * the current one is dead. An invalidation of the current cert ends its token. The decider, run on
 * the fold of its own events, must refuse exactly what the model refuses, with the same code, and
 * leave the same certs, current cert and token.
 */
class Model {
  readonly certs = new Map<string, ModelCert>();
  current: string | undefined;
  token: string | undefined;

  /** The code of the expected refusal, or the change to make when the command is accepted. */
  expect(command: ForeignSessionCommand): ModelExpectation {
    const at = command.at.getTime();
    switch (command.type) {
      case 'CacheForeignIdCert':
        return () => {
          const before = this.certs.get(command.cert.serial);
          // not listed, and never vouched for here: nothing to end, nothing kept
          if (command.notListed && before === undefined) return;
          // a cert its home server no longer lists is over here, as an invalidated one is
          const invalidated = command.invalidatedAt !== undefined || command.notListed === true;
          this.certs.set(command.cert.serial, {
            notBefore: Date.parse(command.cert.notBefore),
            notAfter: Date.parse(command.cert.notAfter),
            invalidated: (before?.invalidated ?? false) || invalidated,
            cacheUntil: command.cacheUntil.getTime(),
            checkedAt: at,
          });
          if (invalidated && this.current === command.cert.serial) this.token = undefined;
        };
      case 'IdentifyForeignSession': {
        const refusal = this.refusal(command.serial, at, command.rootSupersededAt?.getTime());
        if (refusal) return refusal;
        return () => {
          this.current = command.serial;
          this.token = command.tokenHash;
        };
      }
      case 'AnnounceForeignIdCert': {
        if (this.current === undefined) return 'P2CORE_SESSION_NOT_FOUND';
        const refusal = this.refusal(command.serial, at, command.rootSupersededAt?.getTime());
        if (refusal) return refusal;
        return () => (this.current = command.serial);
      }
      case 'LogOutForeignSession':
        if (this.current === undefined) return 'P2CORE_SESSION_NOT_FOUND';
        if (this.token === undefined || this.token !== command.tokenHash) return 'P2CORE_UNAUTHORIZED';
        return () => (this.token = undefined);
    }
  }

  private refusal(serial: string, at: number, rootChangedAt: number | undefined): string | undefined {
    const cert = this.certs.get(serial);
    if (!cert) return 'P2CORE_NOT_FEDERATED';
    if (cert.invalidated) return 'P2CORE_CERT_INVALIDATED';
    // validity is to the second, as in the cert
    const second = at - (at % 1000);
    if (second < cert.notBefore || second > cert.notAfter) return 'P2CORE_CERT_INVALIDATED';
    if (at > cert.cacheUntil || (rootChangedAt !== undefined && cert.checkedAt < rootChangedAt)) return 'P2CORE_NOT_FEDERATED';
    const current = this.current === undefined ? undefined : this.certs.get(this.current);
    if (current && this.current !== serial && !current.invalidated && cert.notBefore <= current.notBefore) return 'P2CORE_CERT_INVALIDATED';
    return undefined;
  }
}

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

describe('foreign session decider against a plain model, over random histories', () => {
  /** per seed run, how often its history said of the live session's current cert that it is no longer listed */
  const unlistedLiveCerts = new Map<number, number>();

  it.each(SEEDS)('seed %i: 400 random commands, the clock moving on', (seed) => {
    unlistedLiveCerts.set(seed, history(seed));
  });

  it('the histories, together, end a live token by a statement that its cert is no longer listed', () => {
    // the seeds not run (a filtered run) are run here
    for (const seed of SEEDS) if (!unlistedLiveCerts.has(seed)) unlistedLiveCerts.set(seed, history(seed));
    expect([...unlistedLiveCerts.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});

/** One random history of `seed`, checked step by step against the model; how many of its
 * statements said of the session's current cert, its token live, that it is no longer listed. */
function history(seed: number): number {
  const rng = prng(seed);
  const model = new Model();
  let state: ForeignSessionState = foreignSessionDecider.initialState();
  let now = Date.parse('2026-01-01T00:00:00Z');
  let tokens = 0;
  // eight certs of the session, each starting four hours after the one before, valid 4 to 12
  // hours: over the ~30 hours of a history, one or two are usable at a time
  const start = now;
  const certs = ['11', '12', '13', '14', '15', '16', '17', '18'].map((serial, i) => ({
    issuerDomain: 'a.example',
    serial,
    certPem: `PEM ${serial}`,
    publicKey: `KEY ${serial}`,
    notBefore: new Date(start + i * 4 * HOUR + rng.int(1000)).toISOString(),
    notAfter: new Date(start + i * 4 * HOUR + (4 + rng.int(9)) * HOUR).toISOString(),
    rootSerial: '1',
  }));
  // mostly a cert valid now (what a client has), sometimes any of them
  const aCert = () => {
    const valid = certs.filter((c) => Date.parse(c.notBefore) <= now && now <= Date.parse(c.notAfter));
    return valid.length > 0 && rng.int(4) > 0 ? rng.pick(valid) : rng.pick(certs);
  };
  // mostly the cert last vouched for (what a sign-in right after its check presents), sometimes
  // another one, or one never vouched for
  let lastCached: string | undefined;
  const serial = () => (rng.int(12) === 0 ? '99' : lastCached !== undefined && rng.int(3) > 0 ? lastCached : aCert().serial);
  const tokenFor = () => (model.token !== undefined && rng.int(3) > 0 ? model.token : `t${rng.int(tokens + 1)}`);
  // now and then the domain's root changed a little before or after a statement was taken
  const rootChange = () => (rng.int(5) === 0 ? { rootSupersededAt: new Date(now - rng.int(40 * MINUTE)) } : {});
  const outcomes = new Map<string, number>();
  let unlistedEndsToken = 0;
  for (let step = 0; step < 400; step++) {
    now += rng.int(8) === 0 ? rng.int(60 * MINUTE) : rng.int(3 * MINUTE);
    const at = new Date(now);
    const ids = { federationId: fid, sessionId: 'phone', at };
    const commands: (() => ForeignSessionCommand)[] = [
      () => {
        // mostly listed and fine; now and then listed as invalidated, or not listed at all
        const word = rng.int(10);
        const [invalidated, notListed] = [word === 0, word === 1];
        // either hits the session's current cert half the time: the case that ends its token
        const cert = (invalidated || notListed) && model.current !== undefined && rng.int(2) === 0 ? certs.find((c) => c.serial === model.current)! : aCert();
        return {
          type: 'CacheForeignIdCert',
          ...ids,
          cert,
          ...(invalidated ? { invalidatedAt: new Date(now - rng.int(HOUR)) } : {}),
          ...(notListed ? { notListed: true as const } : {}),
          cacheUntil: new Date(now + rng.int(60) * MINUTE),
        };
      },
      () => ({ type: 'IdentifyForeignSession', ...ids, serial: serial(), tokenHash: `t${++tokens}`, ...rootChange() }),
      () => ({ type: 'AnnounceForeignIdCert', ...ids, serial: serial(), ...rootChange() }),
      () => ({ type: 'LogOutForeignSession', ...ids, tokenHash: tokenFor() }),
    ];
    const command = rng.pick(commands)();
    if (command.type === 'CacheForeignIdCert') lastCached = command.cert.serial;
    if (command.type === 'CacheForeignIdCert' && command.notListed && model.token !== undefined && model.current === command.cert.serial) unlistedEndsToken++;
    const expected = model.expect(command);
    state = stepAgainstModel(foreignSessionDecider, state, command, expected, step, outcomes);
    expect({ step, current: state.currentSerial, token: state.tokenHash }).toEqual({ step, current: model.current, token: model.token });
    for (const [id, cert] of model.certs) {
      const decided = state.certs[id];
      expect({ step, id, invalidated: decided?.invalidated, cacheUntil: decided && Date.parse(decided.cacheUntil), checkedAt: decided && Date.parse(decided.checkedAt) }).toEqual({
        step,
        id,
        invalidated: cert.invalidated,
        cacheUntil: cert.cacheUntil,
        checkedAt: cert.checkedAt,
      });
    }
    expect(Object.keys(state.certs).sort()).toEqual([...model.certs.keys()].sort());
  }
  // the histories reach acceptance and refusal of each command that can be refused
  expectAcceptedAndRefused(outcomes, ['IdentifyForeignSession', 'AnnounceForeignIdCert', 'LogOutForeignSession']);
  return unlistedEndsToken;
}
