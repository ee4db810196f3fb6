import type { TrustProxy } from '@p2/config';

/** P2_TRUST_PROXY as Fastify takes it (docs/protocol.md#client-address). A number n of proxies
 * trusts the last n hops: the connection's peer is hop 0, then the header's addresses from the right,
 * so the client is the address the outermost of them saw, whatever a client wrote further left. */
export function fastifyTrustProxy(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return typeof trust === 'boolean' ? trust : [...trust];
}
