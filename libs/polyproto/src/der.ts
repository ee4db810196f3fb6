/**
 * A minimal DER reader and writer.
 *
 * Why hand-written: the issue pipeline (PEM CSR in → every check → signed PEM cert out) must reach
 * 5,000/s on one core, and the crypto alone costs ~140 µs of the 200 µs budget. The high-level
 * `@peculiar/x509` path (schema-driven parse + `X509CertificateGenerator`) measured ~400/s, and it
 * re-encodes extensions in the standard way, which breaks polyproto-rs signature checks
 * (docs/protocol.md#actor-cert-profile). Reading a CSR here is a handful of bounds-checked offset
 * computations with no copies; the
 * @peculiar ASN.1 schemas are used in the tests as an independent parser instead.
 *
 * The reader accepts DER only: definite lengths in minimal form, low tag numbers, every length
 * checked against its parent's end before use, so hostile length bytes fail fast and never cause
 * an out-of-range read or a long loop.
 */
import { fail } from './errors';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One TLV inside the reader's buffer, as offsets (no copies). */
export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the last content byte. */
  readonly end: number;
}

const DER_RULE = 'X.690 DER: definite minimal-length encoding inside the enclosing value';

/** Reads TLVs out of one buffer; every failure is a PolyprotoError with the reader's `code`. */
export class DerReader {
  constructor(
    readonly buf: Uint8Array,
    readonly code: string,
  ) {}

  fail(field: string, rule: string, detail?: string): never {
    return fail(this.code, field, rule, detail);
  }

  /** Reads the TLV starting at `pos`; it must end at or before `limit`. */
  read(pos: number, limit: number, field: string): Tlv {
    const buf = this.buf;
    if (pos + 2 > limit) this.fail(field, DER_RULE, 'truncated');
    const tag = buf[pos];
    if ((tag & 0x1f) === 0x1f) this.fail(field, DER_RULE, 'high tag numbers are not used here');
    let len = buf[pos + 1];
    let contentStart = pos + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0) this.fail(field, DER_RULE, 'indefinite length');
      if (n > 3) this.fail(field, DER_RULE, 'length too large');
      if (contentStart + n > limit) this.fail(field, DER_RULE, 'truncated length');
      if (buf[contentStart] === 0) this.fail(field, DER_RULE, 'non-minimal length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[contentStart + i];
      if (len < 0x80) this.fail(field, DER_RULE, 'non-minimal length');
      contentStart += n;
    }
    const end = contentStart + len;
    if (end > limit) this.fail(field, DER_RULE, 'value runs past its container');
    return { tag, start: pos, contentStart, end };
  }

  /** Like {@link read}, and the tag must be `tag`. */
  expect(pos: number, limit: number, tag: number, field: string): Tlv {
    const tlv = this.read(pos, limit, field);
    if (tlv.tag !== tag) {
      this.fail(field, `expected ASN.1 tag 0x${hex2(tag)}`, `found 0x${hex2(tlv.tag)}`);
    }
    return tlv;
  }

  /** The TLVs that exactly fill `parent`'s content. */
  children(parent: Tlv, field: string): Tlv[] {
    const out: Tlv[] = [];
    let pos = parent.contentStart;
    while (pos < parent.end) {
      const child = this.read(pos, parent.end, field);
      out.push(child);
      pos = child.end;
    }
    return out;
  }

  /** The whole TLV (tag, length and content) as a view. */
  bytes(tlv: Tlv): Uint8Array {
    return this.buf.subarray(tlv.start, tlv.end);
  }

  /** The content octets as a view. */
  content(tlv: Tlv): Uint8Array {
    return this.buf.subarray(tlv.contentStart, tlv.end);
  }

  /** True when the whole TLV equals `expected` byte for byte. */
  equals(tlv: Tlv, expected: Uint8Array): boolean {
    return rangeEquals(this.buf, tlv.start, tlv.end, expected);
  }

  /** True when the content of `tlv` equals `expected`. */
  contentEquals(tlv: Tlv, expected: Uint8Array): boolean {
    return rangeEquals(this.buf, tlv.contentStart, tlv.end, expected);
  }

  /** A BOOLEAN's value; DER allows only the contents 0x00 and 0xFF. */
  boolean(tlv: Tlv, field: string): boolean {
    if (tlv.tag !== TAG.BOOLEAN) this.fail(field, 'expected a BOOLEAN');
    if (tlv.end - tlv.contentStart !== 1) this.fail(field, 'X.690: a BOOLEAN has exactly one content octet');
    const v = this.buf[tlv.contentStart];
    if (v !== 0x00 && v !== 0xff) this.fail(field, 'X.690 DER: BOOLEAN content must be 0x00 or 0xFF', `found 0x${hex2(v)}`);
    return v === 0xff;
  }

  /**
   * A non-negative INTEGER that fits in a JS number. `minimal` enforces DER's shortest form; the
   * reference library writes pathLen as an 8-byte big-endian INTEGER, so some callers relax it.
   */
  smallUnsigned(tlv: Tlv, field: string, minimal: boolean): number {
    if (tlv.tag !== TAG.INTEGER) this.fail(field, 'expected an INTEGER');
    const len = tlv.end - tlv.contentStart;
    if (len === 0) this.fail(field, 'X.690: an INTEGER has at least one content octet');
    const b = this.buf;
    const first = b[tlv.contentStart];
    if (first & 0x80) this.fail(field, 'INTEGER must not be negative');
    if (minimal && len > 1 && first === 0 && (b[tlv.contentStart + 1] & 0x80) === 0) {
      this.fail(field, 'X.690 DER: INTEGER must use the minimal number of octets');
    }
    let value = 0;
    for (let i = tlv.contentStart; i < tlv.end; i++) {
      value = value * 256 + b[i];
      if (value > 0x7fffffff) this.fail(field, 'INTEGER value too large');
    }
    return value;
  }
}

export function rangeEquals(buf: Uint8Array, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (buf[start + i] !== expected[i]) return false;
  return true;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function lengthOctets(len: number): number {
  return len < 0x80 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 4;
}

/** Encodes one TLV whose content is the concatenation of `parts`. */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const n = lengthOctets(len);
  const out = Buffer.allocUnsafe(1 + n + len);
  out[0] = tag;
  let pos: number;
  if (n === 1) {
    out[1] = len;
    pos = 2;
  } else {
    out[1] = 0x80 | (n - 1);
    for (let i = n - 1; i >= 1; i--) out[1 + i] = (len >>> ((n - 1 - i) * 8)) & 0xff;
    pos = 1 + n;
  }
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Minimal two's-complement DER INTEGER of a non-negative bigint. */
export function encodeUnsignedInteger(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return tlv(TAG.INTEGER, Buffer.from(hex, 'hex'));
}
