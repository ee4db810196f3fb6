/**
 * AlgorithmIdentifier ⇄ dotted OID, for the encryption algorithms of encrypted private key
 * material (docs/protocol.md#key-material-shapes): the 2024 type doc and polyproto-rs send each algorithm as the DER
 * bytes of an X.509 AlgorithmIdentifier (`SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY
 * OPTIONAL }`), beta.3 sends dotted OID strings. The server stores the dotted form.
 */
import { DerReader, TAG } from './der';
import { fail, quote } from './errors';

const CODE = 'ALGORITHM_IDENTIFIER_INVALID';
const RULE = 'X.690 DER: AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }';

/** Longest dotted OID accepted, in characters (real OIDs are far shorter; this bounds hostile input). */
export const MAX_DOTTED_OID_LENGTH = 200;

const DOTTED_OID_RE = /^(0|1|2)(\.(0|[1-9]\d*))+$/;

/**
 * Checks a dotted OID string (`1.2.840.113549.1.5.13`): at least two arcs, decimal without leading
 * zeros, first arc 0–2 and, under 0 and 1, a second arc below 40 (X.660). Returns it unchanged;
 * throws `ALGORITHM_IDENTIFIER_INVALID` with `field` otherwise.
 */
export function parseDottedOid(value: unknown, field = 'oid'): string {
  if (typeof value !== 'string' || value.length > MAX_DOTTED_OID_LENGTH || !DOTTED_OID_RE.test(value)) {
    return fail(CODE, field, 'X.660: an OID is dotted decimal arcs, e.g. 1.2.840.113549.1.5.13', typeof value === 'string' ? quote(value) : typeof value);
  }
  const [first, second] = value.split('.');
  if (first !== '2' && BigInt(second!) >= 40n) fail(CODE, field, 'X.660: under arcs 0 and 1 the second arc is below 40', quote(value));
  return value;
}

/**
 * The dotted OID of the `algorithm` field of a DER AlgorithmIdentifier. The parameters (if any)
 * must be exactly one well-formed TLV and are not interpreted. Throws `ALGORITHM_IDENTIFIER_INVALID`.
 */
export function algorithmIdentifierOid(der: Uint8Array, field = 'algorithmIdentifier'): string {
  if (!(der instanceof Uint8Array)) return fail(CODE, field, RULE, 'not a byte array');
  const reader = new DerReader(der, CODE);
  const seq = reader.expect(0, der.length, TAG.SEQUENCE, field);
  if (seq.end !== der.length) reader.fail(field, RULE, 'trailing bytes after the SEQUENCE');
  const children = reader.children(seq, field);
  if (children.length < 1 || children.length > 2) reader.fail(field, RULE, `${children.length} elements`);
  const oid = children[0]!;
  if (oid.tag !== TAG.OID) reader.fail(`${field}.algorithm`, 'expected an OBJECT IDENTIFIER');
  return decodeOid(reader.content(oid), `${field}.algorithm`);
}

/** X.690 §8.19: base-128 subidentifiers, the first one packing the first two arcs. */
function decodeOid(content: Uint8Array, field: string): string {
  if (content.length === 0) fail(CODE, field, 'X.690 §8.19: an OID has at least one subidentifier');
  if (content[content.length - 1]! & 0x80) fail(CODE, field, 'X.690 §8.19: the last subidentifier is unterminated');
  const arcs: bigint[] = [];
  let value = 0n;
  let start = true;
  for (const byte of content) {
    if (start && byte === 0x80) fail(CODE, field, 'X.690 §8.19.2: subidentifiers use the fewest octets (no leading 0x80)');
    value = (value << 7n) | BigInt(byte & 0x7f);
    start = (byte & 0x80) === 0;
    if (start) {
      arcs.push(value);
      value = 0n;
    }
  }
  const head = arcs[0]!;
  const firstTwo = head < 40n ? [0n, head] : head < 80n ? [1n, head - 40n] : [2n, head - 80n];
  const dotted = [...firstTwo, ...arcs.slice(1)].join('.');
  if (dotted.length > MAX_DOTTED_OID_LENGTH) fail(CODE, field, `an OID of at most ${MAX_DOTTED_OID_LENGTH} characters`);
  return dotted;
}
