import { randomBytes } from 'node:crypto';

/** A KeyPackage as a client uploads it, with a fresh random init_key (32 bytes, as X25519) and leaf
 * node, so that no two collide on the init_key every KeyPackage must have its own of. */
export function freshKeyPackage(extensions: unknown = []) {
  return {
    protocol_version: 'mls10',
    cipher_suite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
    init_key: randomBytes(32).toString('base64'),
    leaf_node: randomBytes(96).toString('base64'),
    extensions,
  };
}
