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

  it('accepts public unicast addresses', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111']) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: true });
    }
  });
});
