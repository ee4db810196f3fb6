import { httpFreshSeconds } from '../src/federation/http-freshness';
import { isPublicAddress } from '../src/federation/public-address';

describe('HTTP freshness of another home server’s answers (docs/protocol.md#federation-cache)', () => {
  it('no-store and no-cache forbid reuse; max-age wins over Expires; Expires counts from Date', () => {
    expect(httpFreshSeconds('no-store', undefined, undefined)).toBe(0);
    expect(httpFreshSeconds('public, No-Cache', undefined, undefined)).toBe(0);
    expect(httpFreshSeconds('public, max-age=600', 'Thu, 01 Jan 2026 00:00:10 GMT', 'Thu, 01 Jan 2026 00:00:00 GMT')).toBe(600);
    expect(httpFreshSeconds('max-age="30"', undefined, undefined)).toBe(30);
    expect(httpFreshSeconds(undefined, 'Thu, 01 Jan 2026 00:01:40 GMT', 'Thu, 01 Jan 2026 00:00:00 GMT')).toBe(100);
    expect(httpFreshSeconds(undefined, '0', 'Thu, 01 Jan 2026 00:00:00 GMT')).toBe(0);
    expect(httpFreshSeconds(undefined, 'Thu, 01 Jan 2025 00:00:00 GMT', 'Thu, 01 Jan 2026 00:00:00 GMT')).toBe(0);
  });

  it('says nothing when the headers say nothing', () => {
    expect(httpFreshSeconds(undefined, undefined, undefined)).toBeUndefined();
    expect(httpFreshSeconds('public', undefined, 'Thu, 01 Jan 2026 00:00:00 GMT')).toBeUndefined();
    expect(httpFreshSeconds(undefined, 'Thu, 01 Jan 2026 00:01:40 GMT', undefined)).toBeUndefined();
  });
});

describe('public addresses (docs/protocol.md#federation-http)', () => {
  it('refuses loopback, private, link-local, shared, reserved, multicast and mapped addresses', () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:8.8.8.8', '::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:1', 'ff02::1', 'a.example', '']) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
    }
  });

  it('refuses the IPv6 ranges that carry an IPv4 address or lead into another network, whatever they carry', () => {
    for (const address of [
      '::7f00:1', // IPv4-compatible 127.0.0.1
      '::127.0.0.1',
      '::a00:1', // IPv4-compatible 10.0.0.1
      '::ffff:0:7f00:1', // IPv4-translated 127.0.0.1
      '64:ff9b::7f00:1', // NAT64, well-known prefix
      '64:ff9b:1::a00:1', // NAT64, local use
      '2002:7f00:1::1', // 6to4 of 127.0.0.1
      '2002:808:808::1', // 6to4 of a public address: refused all the same
      '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
      '2001:2::1', // benchmarking
      '3fff::1', // documentation (RFC 9637)
      'fec0::1', // site-local
      'feff::1',
    ]) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
    }
  });

  it('accepts public unicast addresses', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '2001:4860:4860::8888', '2003::1', '2001:1::1']) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: true });
    }
  });
});
