import { solutionReadings } from '../src/auth/sensitive-action.guard';

/** Node hands header values over as Latin-1, one character per byte: what the guard makes of them. */
describe('solutionReadings (the passwords an X-P2-Sensitive-Solution value may stand for)', () => {
  const asNodeReadsIt = (bytes: Buffer) => bytes.toString('latin1');

  it('reads ASCII as it is, once', () => {
    expect(solutionReadings('correct horse battery staple')).toEqual(['correct horse battery staple']);
  });

  it('reads UTF-8 bytes as the characters they encode, the Latin-1 reading after', () => {
    const password = 'пароль-🔑-pässwörd';
    const header = asNodeReadsIt(Buffer.from(password, 'utf8'));
    expect(solutionReadings(header)).toEqual([password, header]);
  });

  it('keeps a Latin-1 value (as browsers and Node send ä) that is not UTF-8 as it is, once', () => {
    const header = asNodeReadsIt(Buffer.from('pässwörd', 'latin1'));
    expect(header).toBe('pässwörd');
    expect(solutionReadings(header)).toEqual(['pässwörd']);
  });
});
