import Fastify from 'fastify';
import { loadConfig } from '@p2/config';
import { fastifyTrustProxy } from '../src/http/trust-proxy';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', P2_KEY_ENCRYPTION_KEY: 'ab'.repeat(32), P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'ef'.repeat(32) };

/** The client address the per-address limits and the audit log count under, for a request from the
 * loopback that says `X-Forwarded-For: 203.0.113.7, 198.51.100.9` (docs/protocol.md#client-address). */
async function clientAddress(trustProxy?: string): Promise<string> {
  const config = loadConfig({ ...base, ...(trustProxy === undefined ? {} : { P2_TRUST_PROXY: trustProxy }) });
  const app = Fastify({ trustProxy: fastifyTrustProxy(config.httpServer.trustProxy) });
  app.get('/', async (request) => request.ip);
  try {
    const answer = await app.inject({ url: '/', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.9' } });
    return answer.body;
  } finally {
    await app.close();
  }
}

describe('P2_TRUST_PROXY: whose X-Forwarded-For names the client', () => {
  it('by default nobody: the connection is the client, whatever it writes in the header', async () => {
    expect(await clientAddress()).toBe('127.0.0.1');
  });

  it('one proxy: the address it appended (the header\'s last), not what the client wrote before it', async () => {
    expect(await clientAddress('1')).toBe('198.51.100.9');
    expect(await clientAddress('2')).toBe('203.0.113.7');
  });

  it('listed peers: the header counts only when the connection comes from one of them', async () => {
    expect(await clientAddress('127.0.0.0/8')).toBe('198.51.100.9');
    expect(await clientAddress('10.0.0.0/8')).toBe('127.0.0.1');
  });

  it('true: every hop, so the header\'s first address', async () => {
    expect(await clientAddress('true')).toBe('203.0.113.7');
  });
});
