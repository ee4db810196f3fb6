import { BlockList, isIP } from 'node:net';

/** Addresses no other home server may be reached at unless an operator names it in
 * P2_FEDERATION_RESOLVE (docs/protocol.md#federation-http): loopback, private, link-local,
 * shared, multicast, reserved and documentation ranges, and every IPv6 range that carries an IPv4
 * address or leads into another network (mapped, compatible, translated, NAT64, 6to4, Teredo). Those
 * are refused whatever they carry, not checked by the IPv4 address inside: a router or relay in
 * between decides where they end up, and no home server needs them. */
const NOT_PUBLIC: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  ['::', 96, 'ipv6'], // the unspecified address, loopback, and IPv4-compatible (::7f00:1 is 127.0.0.1)
  ['::ffff:0:0', 96, 'ipv6'], // IPv4-mapped
  ['::ffff:0:0:0', 96, 'ipv6'], // IPv4-translated (SIIT)
  ['64:ff9b::', 96, 'ipv6'], // NAT64, well-known prefix
  ['64:ff9b:1::', 48, 'ipv6'], // NAT64, local use
  ['100::', 64, 'ipv6'], // discard
  ['2001::', 32, 'ipv6'], // Teredo: reaches the IPv4 address it embeds through a relay
  ['2001:2::', 48, 'ipv6'], // benchmarking
  ['2001:db8::', 32, 'ipv6'], // documentation
  ['2002::', 16, 'ipv6'], // 6to4: reaches the IPv4 address it embeds through a relay
  ['3fff::', 20, 'ipv6'], // documentation (RFC 9637)
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated, still routed inside some sites)
  ['ff00::', 8, 'ipv6'], // multicast
];

// One list per family: a BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules too.
const blocked = { ipv4: new BlockList(), ipv6: new BlockList() };
for (const [network, prefix, type] of NOT_PUBLIC) blocked[type].addSubnet(network, prefix, type);

/** Whether `address` (an IP literal) is a public unicast address. Anything else, a name included, is not. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return family === 4 ? !blocked.ipv4.check(address, 'ipv4') : !blocked.ipv6.check(address, 'ipv6');
}
