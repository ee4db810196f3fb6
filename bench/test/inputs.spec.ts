import { execFileSync } from 'node:child_process';
import { readIdCsr } from '@p2/polyproto';
import { freshCsr } from '../src/fixtures/inputs';

describe('bench inputs: freshCsr', () => {
  it('is an ID-CSR the server accepts, signed with a key of its own, and OpenSSL verifies it', () => {
    const first = freshCsr('alice@example.com', 'phone');
    const second = freshCsr('alice@example.com', 'laptop');
    const read = readIdCsr(first, { domain: 'example.com', actorLocalName: 'alice' });
    expect([read.federationId.toString(), read.sessionId]).toEqual(['alice@example.com', 'phone']);
    expect(Buffer.from(read.publicKey)).not.toEqual(Buffer.from(readIdCsr(second, { domain: 'example.com' }).publicKey));
    expect(execFileSync('openssl', ['req', '-verify', '-noout'], { input: first, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })).toBe('');
  });
});
