import { BlockList, isIP } from 'node:net';

/** Addresses no other home server may be reached at unless an operator names it in
 * P2_FEDERATION_RESOLVE (docs/protocol.md#federation-http): loopback, private, link-local,
 * shared, multicast, reserved and documentation ranges, and IPv4 inside IPv6. */
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
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

// One list per family: a BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules too.
const blocked = { ipv4: new BlockList(), ipv6: new BlockList() };
for (const [network, prefix, type] of NOT_PUBLIC) blocked[type].addSubnet(network, prefix, type);

/** Whether `address` (an IP literal) is a public unicast address. Anything else, a name included, is not. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6 && /^(0{0,4}:){0,5}:?ffff:/i.test(address)) return false; // IPv4-mapped: refused whatever it maps
  return family === 4 ? !blocked.ipv4.check(address, 'ipv4') : !blocked.ipv6.check(address, 'ipv6');
}
