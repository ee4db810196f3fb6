import { COMMAND_DATA, COMMAND_TYPES, InvalidCommandError, RESULT_TYPE, decodeCommand, decodeCommandData, newCommand, commandKey, OpenSessionData } from '../src';

const tokenHash = 'ab'.repeat(32);
const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCommandError);
    expect((error as InvalidCommandError).code).toBe('P2CORE_MALFORMED_REQUEST');
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('command contracts', () => {
  it('has a data class and a result type for every command type', () => {
    expect(Object.keys(RESULT_TYPE).sort()).toEqual([...COMMAND_TYPES].sort());
    for (const type of COMMAND_TYPES) expect(typeof COMMAND_DATA[type]).toBe('function');
  });

  it('decodes a command into an instance of its data class', () => {
    const data = decodeCommandData('OpenSession', { federationId: 'alice@example.com', csr: 'AAEC', tokenHash });
    expect(data).toBeInstanceOf(OpenSessionData);
    expect(data).toEqual(expect.objectContaining({ federationId: 'alice@example.com', csr: 'AAEC', tokenHash }));
    const command = decodeCommand(newCommand('AcknowledgeInbox', { federationId: 'alice@example.com', sessionId: 's', upTo: 3 }, 'id-1'));
    expect(command.data).toEqual(expect.objectContaining({ upTo: 3 }));
  });

  it("reads an operator's registration mark", () => {
    const data = { federationId: 'root@example.com', localName: 'root', sealedPasswordHash: 'sealed1.x' };
    expect(decodeCommandData('RegisterActor', { ...data, requestedBy: 'operator:ops' })).toEqual(expect.objectContaining({ requestedBy: 'operator:ops' }));
    expect(decodeCommandData('RegisterActor', data).requestedBy).toBeUndefined();
  });

  it.each([
    ['a field of the wrong type', 'AcknowledgeInbox', { federationId: 'alice@example.com', sessionId: 's', upTo: '3' }, /upTo/],
    ['a missing field', 'AcknowledgeInbox', { federationId: 'alice@example.com', sessionId: 's' }, /upTo/],
    ['an unknown field', 'DeleteSession', { federationId: 'alice@example.com', sessionId: 's', force: true }, /force should not exist/],
    ['a federation ID not in canonical form', 'DeleteSession', { federationId: 'Alice@Example.com', sessionId: 's' }, /federationId/],
    ['a token instead of its hash', 'LogOutSession', { federationId: 'alice@example.com', sessionId: 's', tokenHash: 'secret-token' }, /tokenHash/],
    ['a nested item out of contract', 'StoreKeyMaterial', { federationId: 'a@example.com', items: [{ serial: '0', keyData: 'x', encryptionAlgorithms: [] }] }, /items\.0\.serial/],
    ['an unknown field in a nested item', 'StoreKeyMaterial', { federationId: 'a@example.com', items: [{ serial: '1', keyData: 'x', encryptionAlgorithms: [], owner: 'b' }] }, /items\.0\.property owner/],
    ['key data with a NUL', 'StoreKeyMaterial', { federationId: 'a@example.com', items: [{ serial: '1', keyData: 'a\u0000', encryptionAlgorithms: [] }] }, /keyData/],
    ['a KeyPackage init key in another spelling', 'ReplaceLastResortKeyPackage', { federationId: 'a@example.com', sessionId: 's', serial: '1', keyPackage: { protocolVersion: 'mls10', cipherSuite: '1', initKey: '-_8', leafNode: 'AA', extensions: null } }, /initKey/],
    ['data that is not an object', 'RegisterActor', ['alice'], /JSON object/],
    // ValidateNested alone passes a missing object, and reads a list where an object belongs as its elements
    ['a last-resort replacement without its KeyPackage', 'ReplaceLastResortKeyPackage', { federationId: 'a@example.com', sessionId: 's', serial: '1' }, /keyPackage must be an object/],
    ['a last-resort KeyPackage in a list', 'ReplaceLastResortKeyPackage', { federationId: 'a@example.com', sessionId: 's', serial: '1', keyPackage: [] }, /keyPackage must be an object/],
    ['KeyPackages in nested lists', 'AddKeyPackages', { federationId: 'a@example.com', sessionId: 's', serial: '1', keyPackages: [[{ protocolVersion: 'mls10', cipherSuite: '1', initKey: 'AA==', leafNode: 'AA', extensions: null }]] }, /each value in keyPackages must be an object/],
    ['key material items in nested lists', 'StoreKeyMaterial', { federationId: 'a@example.com', items: [[{ serial: '1', keyData: 'x', encryptionAlgorithms: [] }]] }, /each value in items must be an object/],
    ['an identify without its challenge expiry', 'IdentifySession', { federationId: 'a@example.com', sessionId: 's', serial: '7', challenge: 'c'.repeat(121), signature: 'ab'.repeat(64), tokenHash: 'a'.repeat(64) }, /challengeExpires/],
    ['a challenge expiry past what a date holds', 'IdentifySession', { federationId: 'a@example.com', sessionId: 's', serial: '7', challenge: 'c'.repeat(121), challengeExpires: 1e15, signature: 'ab'.repeat(64), tokenHash: 'a'.repeat(64) }, /challengeExpires/],
    // class-transformer skips these keys, so forbidNonWhitelisted alone would never see them
    ['a "__proto__" key', 'DeleteSession', JSON.parse('{"federationId":"alice@example.com","sessionId":"s","__proto__":{"admin":true}}'), /property "__proto__" should not exist/],
    ['a "constructor" key', 'DeleteSession', { federationId: 'alice@example.com', sessionId: 's', constructor: 'x' }, /property "constructor" should not exist/],
    ['a "toString" key in a nested item', 'StoreKeyMaterial', { federationId: 'a@example.com', items: [{ serial: '1', keyData: 'x', encryptionAlgorithms: [], toString: 1 }] }, /property "toString" should not exist/],
    ['a "valueOf" key in a KeyPackage', 'AddKeyPackages', { federationId: 'a@example.com', sessionId: 's', serial: '1', keyPackages: [{ protocolVersion: 'mls10', cipherSuite: '1', initKey: 'AA==', leafNode: 'AA', extensions: null, valueOf: 1 }] }, /property "valueOf" should not exist/],
    ['a registration requested by someone other than an operator', 'RegisterActor', { federationId: 'root@example.com', localName: 'root', sealedPasswordHash: 'sealed1.x', requestedBy: 'root@example.com' }, /requestedBy/],
  ])('refuses %s', (_, type, data, message) => {
    expect(refusal(() => decodeCommandData(type as 'AcknowledgeInbox', data))).toMatch(message);
  });

  it('takes opaque JSON (a KeyPackage\'s extensions, raw algorithms) as it is, keys named like Object.prototype members included, on both paths', () => {
    const text = '{"constructor":1,"prototype":{"__proto__":{"polluted":true}},"toString":[{"valueOf":null}],"a":{"constructor":{"x":2}}}';
    const keyPackage = { protocolVersion: 'mls10', cipherSuite: '1', initKey: 'AA==', leafNode: 'AA' };
    for (const plainChecks of [true, false]) {
      const added = decodeCommandData('AddKeyPackages', { federationId: 'a@example.com', sessionId: 's', serial: '1', keyPackages: [{ ...keyPackage, extensions: JSON.parse(text) }] }, { plainChecks });
      expect(JSON.stringify(added.keyPackages[0]!.extensions)).toBe(text);
      const replaced = decodeCommandData('ReplaceLastResortKeyPackage', { federationId: 'a@example.com', sessionId: 's', serial: '1', keyPackage: { ...keyPackage, extensions: JSON.parse(text) } }, { plainChecks });
      expect(JSON.stringify(replaced.keyPackage.extensions)).toBe(text);
      const stored = decodeCommandData('StoreKeyMaterial', { federationId: 'a@example.com', items: [{ serial: '1', keyData: 'k', encryptionAlgorithms: [], rawEncryptionAlgorithms: JSON.parse(text) }] }, { plainChecks });
      expect(JSON.stringify(stored.items[0]!.rawEncryptionAlgorithms)).toBe(text);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // such a key beside an opaque field is still refused: only the field's value is opaque
    const besides = { ...keyPackage, extensions: null, constructor: 1 };
    expect(refusal(() => decodeCommandData('AddKeyPackages', { federationId: 'a@example.com', sessionId: 's', serial: '1', keyPackages: [besides] }))).toMatch(/property "constructor" should not exist/);
  });

  it('refuses an unknown command type and data nested too deep to read, as contract violations', () => {
    expect(refusal(() => decodeCommand({ type: 'DropTables', data: {}, metadata: newCommand('DeleteSession', { federationId: 'a@example.com', sessionId: 's' }, 'x').metadata }))).toMatch(
      /unknown command type "DropTables"/,
    );
    let deep: unknown = 1;
    for (let i = 0; i < 20000; i++) deep = [deep];
    const item = { serial: '1', keyData: 'k', encryptionAlgorithms: [], rawEncryptionAlgorithms: deep };
    expect(refusal(() => decodeCommandData('StoreKeyMaterial', { federationId: 'a@example.com', items: [item] }))).toMatch(/StoreKeyMaterial: the command data cannot be read/);
  });

  it('keys each command by the stream of the aggregate it is decided on', () => {
    expect(commandKey(newCommand('RotateServerKey', { requestedBy: 'admin@example.com', compromised: false }, 'a'))).toBe('server');
    const identify = { federationId: 'alice@example.com', sessionId: 'laptop', serial: '7', challenge: 'c'.repeat(121), challengeExpires: 1764300300, signature: 'ab'.repeat(64), tokenHash: 'a'.repeat(64) };
    expect(commandKey(newCommand('IdentifySession', identify, 'b'))).toBe('actor-alice@example.com');
    expect(commandKey(newCommand('ClaimKeyPackages', { federationId: 'bob@example.com', requestedBy: 'alice@example.com' }, 'c'))).toBe('actor-bob@example.com');
    expect(commandKey(newCommand('CacheForeignServerCert', { domain: 'a.example', cert: 'AA==', current: true }, 'd'))).toBe('foreign-server-a.example');
    expect(commandKey(newCommand('LogOutForeignSession', { federationId: 'alice@a.example', sessionId: 'laptop', tokenHash: 'a'.repeat(64) }, 'e'))).toBe(
      'foreign-alice@a.example#laptop',
    );
  });

  it('federation commands: a canonical domain, a window of integers with a hex signature, the inherited contracts of identify and logout', () => {
    const cache = { notValidBefore: 1, notValidAfter: 2, signature: 'ab'.repeat(64) };
    const rootCommand = { domain: 'a.example', cert: 'AA==', current: false, cache, httpFreshSeconds: 0 };
    expect(decodeCommandData('CacheForeignServerCert', rootCommand)).toEqual(rootCommand);
    for (const bad of [
      { domain: 'A.example', cert: 'AA==', current: true },
      { domain: 'a.example', cert: 'AA==', current: 'yes' },
      { domain: 'a.example', cert: 'AA==', current: true, cache: { ...cache, signature: 'zz' } },
      { domain: 'a.example', cert: 'AA==', current: true, cache: { ...cache, notValidAfter: 2.5 } },
      { domain: 'a.example', cert: 'AA==', current: true, cache: { ...cache, extra: 1 } },
    ]) {
      expect(() => decodeCommandData('CacheForeignServerCert', bad)).toThrow(InvalidCommandError);
    }
    // the window's times end with year 9999: the certstore makes stored dates of them
    const idCert = { federationId: 'alice@a.example', sessionId: 'laptop', cert: 'AA==', rootSerial: '1', invalidated: true };
    const last = 253_402_300_799;
    const lastWindow = { ...idCert, cache: { ...cache, notValidAfter: last, invalidatedAt: last } };
    expect(decodeCommandData('CacheForeignIdCert', lastWindow)).toEqual(lastWindow);
    for (const late of [last + 1, 8_640_000_000_001, Number.MAX_SAFE_INTEGER]) {
      for (const field of ['notValidBefore', 'notValidAfter', 'invalidatedAt']) {
        expect(() => decodeCommandData('CacheForeignIdCert', { ...idCert, cache: { ...cache, [field]: late } })).toThrow(InvalidCommandError);
      }
    }
    // not listed: only false, and only as an invalidation without a window (there is no entry to sign)
    const unlisted = { ...idCert, listed: false };
    expect(decodeCommandData('CacheForeignIdCert', unlisted)).toEqual(unlisted);
    expect(decodeCommandData('CacheForeignIdCert', { ...unlisted, httpFreshSeconds: 60 })).toEqual({ ...unlisted, httpFreshSeconds: 60 });
    for (const bad of [{ ...unlisted, listed: true }, { ...unlisted, listed: 'no' }, { ...unlisted, invalidated: false }, { ...unlisted, cache }]) {
      expect(refusal(() => decodeCommandData('CacheForeignIdCert', bad))).toMatch(/listed may only be false, with invalidated true and no cache/);
    }
    const logout = { federationId: 'alice@a.example', sessionId: 'laptop', tokenHash: 'a'.repeat(64) };
    expect(decodeCommandData('LogOutForeignSession', logout)).toEqual(expect.objectContaining(logout));
    expect(() => decodeCommandData('LogOutForeignSession', { ...logout, tokenHash: 'token' })).toThrow(InvalidCommandError);
    expect(() => decodeCommandData('IdentifyForeignSession', { ...logout, serial: '1', challenge: 'A'.repeat(64), signature: 'a'.repeat(128), extra: 1 })).toThrow(InvalidCommandError);
    // the instant of the word a request fetched: only as the certstore writes checkedAt
    const announce = { federationId: 'alice@a.example', sessionId: 'laptop', serial: '8' };
    expect(decodeCommandData('AnnounceForeignIdCert', announce)).toEqual(announce);
    expect(decodeCommandData('AnnounceForeignIdCert', { ...announce, vouchedAt: '2026-03-01T12:00:00.123Z' })).toEqual({ ...announce, vouchedAt: '2026-03-01T12:00:00.123Z' });
    for (const vouchedAt of ['2026-03-01T12:00:00Z', '2026-03-01 12:00:00.123Z', 1_772_366_400, '']) {
      expect(() => decodeCommandData('AnnounceForeignIdCert', { ...announce, vouchedAt })).toThrow(InvalidCommandError);
    }
  });
});
