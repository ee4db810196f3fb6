import { actorDecider, type ActorCommand, type ActorState, type IssuedIdCert } from '../src';
import { prng } from '../../polyproto/test/fixtures/prng';
import { expectAcceptedAndRefused, stepAgainstModel, type ModelExpectation } from './model-step';

const fid = 'alice@example.com';
const HOUR = 3_600_000;

interface ModelSession {
  serial: string;
  notAfter: number;
  active: boolean;
  /** the one token that authenticates for this session, if any */
  token?: string;
}

/**
 * The session rules written the plain way (docs/protocol.md#sessions, #session-id-in-use,
 * #identify): per session ID its current cert and at most one token. A session ID is in use while
 * its cert is neither invalidated nor expired; open needs it free, rotation and delete need it in
 * use (rotation at the cert the caller holds), identify needs the cert to be the session's current,
 * valid one, logout the live token. The decider, run on the fold of its own events, must refuse
 * exactly what the model refuses, with the same code, and leave each session with the same cert,
 * state and token, over long random histories with a clock that lets certs expire.
 */
class Model {
  registered = false;
  readonly sessions = new Map<string, ModelSession>();

  /** The code of the expected refusal, or the change to make when the command is accepted. */
  expect(command: ActorCommand): ModelExpectation {
    const session = 'sessionId' in command ? this.sessions.get(command.sessionId) : undefined;
    const inUse = session !== undefined && session.active && session.notAfter >= command.at.getTime();
    switch (command.type) {
      case 'RegisterActor':
        if (command.reservedName && !command.byOperator) return 'P2CORE_NAME_RESERVED';
        if (this.registered) return 'P2CORE_FEDERATION_ID_TAKEN';
        return () => (this.registered = true);
      case 'OpenSession':
        if (!this.registered) return 'P2CORE_ACTOR_NOT_FOUND';
        if (inUse) return 'P2CORE_SESSION_ID_IN_USE';
        return () => this.sessions.set(command.sessionId, { serial: command.cert.serial, notAfter: Date.parse(command.cert.notAfter), active: true, token: command.tokenHash });
      case 'RotateIdCert':
        if (!inUse || session.serial !== command.currentSerial) return 'P2CORE_SESSION_NOT_FOUND';
        return () => Object.assign(session, { serial: command.cert.serial, notAfter: Date.parse(command.cert.notAfter), active: true, token: command.tokenHash });
      case 'DeleteSession':
        // the caller's own session, whose token another request ended meanwhile
        if (command.callerTokenHash !== undefined && session !== undefined && session.token !== command.callerTokenHash) return 'P2CORE_UNAUTHORIZED';
        if (!inUse) return 'P2CORE_SESSION_NOT_FOUND';
        return () => Object.assign(session, { active: false, token: undefined });
      case 'LogOutSession':
        // an expired cert's token can still be given back
        if (!session) return 'P2CORE_SESSION_NOT_FOUND';
        if (!session.active || session.token !== command.tokenHash) return 'P2CORE_UNAUTHORIZED';
        return () => (session.token = undefined);
      case 'IdentifySession':
        if (!inUse || session.serial !== command.serial) return 'P2CORE_CERT_INVALIDATED';
        return () => (session.token = command.tokenHash);
      case 'InvalidateIdCert':
        // nothing to do is no error
        if (!session?.active || session.serial !== command.serial) return () => undefined;
        return () => Object.assign(session, { active: false, token: undefined });
    }
  }
}

describe('actor decider against a plain model of sessions, over random histories', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: 400 random commands, the clock moving on', (seed) => {
    const rng = prng(seed);
    const model = new Model();
    let state: ActorState = actorDecider.initialState();
    const sessionIds = ['phone', 'laptop'];
    let now = Date.parse('2026-01-01T00:00:00Z');
    let serials = 100;
    let tokens = 0;
    const cert = (): IssuedIdCert => ({
      serial: String(++serials),
      certPem: 'PEM',
      publicKey: 'KEY',
      notBefore: new Date(now).toISOString(),
      // 1 to 6 hours: with the clock moving up to 2 hours a step, certs expire now and then
      notAfter: new Date(now + (1 + rng.int(6)) * HOUR).toISOString(),
      rootSerial: '1',
    });
    // a serial the caller might hold: the session's current one, usually; an older one or a made-up one otherwise
    const serialFor = (sessionId: string) => {
      const current = model.sessions.get(sessionId)?.serial;
      return current !== undefined && rng.int(4) > 0 ? current : String(100 + rng.int(serials - 99));
    };
    const tokenFor = (sessionId: string) => {
      const current = model.sessions.get(sessionId)?.token;
      return current !== undefined && rng.int(3) > 0 ? current : `t${rng.int(tokens + 1)}`;
    };
    const outcomes = new Map<string, number>();
    for (let step = 0; step < 400; step++) {
      now += rng.int(4) === 0 ? rng.int(2 * HOUR) : rng.int(60_000);
      const at = new Date(now);
      const sessionId = rng.pick(sessionIds);
      const commands: (() => ActorCommand)[] = [
        () => ({ type: 'RegisterActor', federationId: fid, localName: 'alice', homeDomain: 'example.com', reservedName: rng.int(4) === 0, byOperator: rng.int(2) === 0, at }),
        () => ({ type: 'OpenSession', federationId: fid, sessionId, tokenHash: `t${++tokens}`, cert: cert(), at }),
        () => ({ type: 'RotateIdCert', federationId: fid, sessionId, currentSerial: serialFor(sessionId), tokenHash: `t${++tokens}`, cert: cert(), at }),
        () => ({ type: 'DeleteSession', federationId: fid, sessionId, at }),
        () => ({ type: 'DeleteSession', federationId: fid, sessionId, callerTokenHash: tokenFor(sessionId), at }),
        () => ({ type: 'LogOutSession', federationId: fid, sessionId, tokenHash: tokenFor(sessionId), at }),
        () => ({ type: 'IdentifySession', federationId: fid, sessionId, serial: serialFor(sessionId), tokenHash: `t${++tokens}`, at }),
        () => ({ type: 'InvalidateIdCert', federationId: fid, sessionId, serial: serialFor(sessionId), reason: 'server-key-compromised', at }),
      ];
      const command = rng.pick(commands)();
      const expected = model.expect(command);
      state = stepAgainstModel(actorDecider, state, command, expected, step, outcomes);
      // every session as the model has it: its cert, whether it is active, its one token
      for (const [id, session] of model.sessions) {
        const decided = state.sessions[id];
        expect({ step, id, serial: decided?.serial, notAfter: decided && Date.parse(decided.notAfter), active: decided?.active, token: decided?.tokenHash }).toEqual({
          step,
          id,
          serial: session.serial,
          notAfter: session.notAfter,
          active: session.active,
          token: session.token,
        });
      }
    }
    // the histories reach acceptance and refusal of each command that can be refused
    expectAcceptedAndRefused(outcomes, ['OpenSession', 'RotateIdCert', 'DeleteSession', 'LogOutSession', 'IdentifySession']);
  });
});
