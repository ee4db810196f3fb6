/**
 * polyproto distinguished names (docs/protocol.md#csr-names). Attributes are recognised by OID bytes, never by
 * printed names. Both the reference library's RDN order (uniqueIdentifier, UID, DC=tld, …, CN) and
 * the conventional order (DC=tld, …, CN, UID, uniqueIdentifier) are accepted: only DER order of the
 * DCs matters (TLD first).
 */
import { DerReader, TAG, tlv, type Tlv } from './der';
import { fail, quote } from './errors';
import { federationIdOf, normalizeDomain, type FederationId } from './federation-id';
import { OID_CN, OID_DC, OID_UID, OID_UNIQUE_IDENTIFIER } from './oids';
import { isSessionIdBytes, SESSION_ID_RULE } from './session-id';

/** The polyproto-relevant content of a Name. String values are raw content octets. */
export interface NameSummary {
  cn: Uint8Array[];
  /** DC values in DER order (TLD first). */
  dc: Uint8Array[];
  uid: Uint8Array[];
  uniqueIdentifier: Uint8Array[];
}

const STRING_TAGS = new Set<number>([TAG.UTF8_STRING, TAG.IA5_STRING, TAG.PRINTABLE_STRING]);

/**
 * Walks Name = SEQUENCE OF SET OF { type OID, value }. Structural problems are reported with the
 * reader's code; a polyproto attribute with a string type other than UTF8String, IA5String or
 * PrintableString is a `nameCode` error.
 */
export function readName(r: DerReader, name: Tlv, field: string, nameCode: string): NameSummary {
  if (name.tag !== TAG.SEQUENCE) r.fail(field, 'RFC 5280: a Name is a SEQUENCE of RDNs');
  const out: NameSummary = { cn: [], dc: [], uid: [], uniqueIdentifier: [] };
  let pos = name.contentStart;
  while (pos < name.end) {
    const rdn = r.expect(pos, name.end, TAG.SET, field);
    if (rdn.end === rdn.contentStart) r.fail(field, 'RFC 5280: an RDN holds at least one attribute');
    let apos = rdn.contentStart;
    while (apos < rdn.end) {
      const atv = r.expect(apos, rdn.end, TAG.SEQUENCE, field);
      const type = r.expect(atv.contentStart, atv.end, TAG.OID, field);
      const value = r.read(type.end, atv.end, field);
      if (value.end !== atv.end) r.fail(field, 'RFC 5280: an attribute is exactly { type, value }');
      const list = r.contentEquals(type, OID_DC)
        ? out.dc
        : r.contentEquals(type, OID_CN)
          ? out.cn
          : r.contentEquals(type, OID_UID)
            ? out.uid
            : r.contentEquals(type, OID_UNIQUE_IDENTIFIER)
              ? out.uniqueIdentifier
              : undefined;
      if (list) {
        if (!STRING_TAGS.has(value.tag)) {
          fail(nameCode, `${field}.${attributeName(list, out)}`, 'polyproto name attributes are UTF8String, IA5String or PrintableString');
        }
        list.push(r.content(value));
      }
      apos = atv.end;
    }
    pos = rdn.end;
  }
  return out;
}

function attributeName(list: Uint8Array[], s: NameSummary): string {
  return list === s.dc ? 'domainComponent' : list === s.cn ? 'commonName' : list === s.uid ? 'uid' : 'uniqueIdentifier';
}

function isAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] > 0x7f) return false;
  return true;
}

function text(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString(isAscii(b) ? 'latin1' : 'utf8');
}

/** Domain from DCs in DER order (TLD first): reversed and joined with dots. */
export function domainOfDcs(dcs: Uint8Array[]): string {
  const labels: string[] = [];
  for (let i = dcs.length - 1; i >= 0; i--) labels.push(text(dcs[i]));
  return labels.join('.');
}

export function dcListsEqual(a: Uint8Array[], b: Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Buffer.compare(a[i], b[i]) !== 0) return false;
  return true;
}

/** Counts that hold for every polyproto name (docs/protocol.md#csr-names). */
function checkCounts(s: NameSummary, code: string, field: string): void {
  if (s.cn.length > 1) fail(code, `${field}.commonName`, 'at most one CN');
  if (s.dc.length < 1) fail(code, `${field}.domainComponent`, 'at least one DC');
  if (s.uid.length > 1) fail(code, `${field}.uid`, 'at most one UID');
  if (s.uniqueIdentifier.length > 1) fail(code, `${field}.uniqueIdentifier`, 'at most one uniqueIdentifier');
  if (s.uid.length === 1 && s.uniqueIdentifier.length === 0) {
    fail(code, `${field}.uniqueIdentifier`, 'UID and uniqueIdentifier are both present or both absent', 'UID without uniqueIdentifier');
  }
  if (s.uniqueIdentifier.length === 1 && s.uid.length === 0) {
    fail(code, `${field}.uid`, 'UID and uniqueIdentifier are both present or both absent', 'uniqueIdentifier without UID');
  }
  for (const dc of s.dc) {
    if (dc.length === 0 || !isAscii(dc)) fail(code, `${field}.domainComponent`, 'DC values are non-empty ASCII labels', `got ${quote(text(dc))}`);
  }
}

const UID_PATTERN = /^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*$/;

export interface ActorNameOptions {
  code: string;
  field: string;
  /** Server policy (docs/protocol.md#csr-names): CN must be present. Foreign certificates follow the library (optional). */
  requireCn: boolean;
}

/**
 * Actor name rules and the server's policy (docs/protocol.md#csr-names): UID is a lowercase federation
 * ID, the DC list equals its domain labels exactly, CN (when present) equals the local part, and
 * uniqueIdentifier is a session ID (docs/protocol.md#session-ids).
 */
export function checkActorName(s: NameSummary, o: ActorNameOptions): { federationId: FederationId; sessionId: string } {
  const { code, field } = o;
  checkCounts(s, code, field);
  if (s.uid.length === 0) {
    fail(code, `${field}.uid`, 'an actor name carries UID (federation ID) and uniqueIdentifier (session ID)');
  }
  const sid = s.uniqueIdentifier[0];
  if (!isSessionIdBytes(sid)) {
    fail(code, `${field}.uniqueIdentifier`, `uniqueIdentifier is the session ID; ${SESSION_ID_RULE}`, `got ${quote(text(sid))}`);
  }
  const uidBytes = s.uid[0];
  const uid = text(uidBytes);
  if (!isAscii(uidBytes) || !UID_PATTERN.test(uid)) {
    const upper = isAscii(uidBytes) && UID_PATTERN.test(uid.toLowerCase());
    fail(
      code,
      `${field}.uid`,
      upper
        ? 'the UID must be lowercase (the reference library regex matches lowercase only)'
        : 'the UID must fully match ^[a-z0-9._%+-]+@[a-z0-9-]+(\\.[a-z0-9-]+)*$',
      `got ${quote(uid)}`,
    );
  }
  const at = uid.indexOf('@');
  const localName = uid.slice(0, at);
  const domainText = uid.slice(at + 1);
  if (localName.length > 64) fail(code, `${field}.uid`, 'the local part has at most 64 characters');
  let domain: string;
  try {
    domain = normalizeDomain(domainText);
  } catch {
    return fail(code, `${field}.uid`, 'the UID domain must be a valid DNS name', `got ${quote(domainText)}`);
  }
  const labels = domain.split('.');
  const dcs = s.dc;
  let dcMatch = dcs.length === labels.length;
  for (let i = 0; dcMatch && i < labels.length; i++) dcMatch = text(dcs[dcs.length - 1 - i]) === labels[i];
  if (!dcMatch) {
    fail(
      code,
      `${field}.domainComponent`,
      'the DCs (TLD first in DER) must equal the UID domain labels exactly',
      `DCs give ${quote(domainOfDcs(dcs))}, UID domain is ${quote(domain)}`,
    );
  }
  if (s.cn.length === 0) {
    if (o.requireCn) fail(code, `${field}.commonName`, 'an actor name must carry a CN equal to the UID local part');
  } else {
    const cn = text(s.cn[0]);
    if (cn !== localName) {
      if (cn === uid) {
        fail(
          code,
          `${field}.commonName`,
          'CN must be the local part of the federation ID, not the full federation ID',
          `CN is ${quote(cn)}; use ${quote(localName)}`,
        );
      }
      fail(code, `${field}.commonName`, 'CN must equal the UID local part', `CN ${quote(cn)}, UID local part ${quote(localName)}`);
    }
  }
  return { federationId: federationIdOf(localName, domain), sessionId: text(sid) };
}

/**
 * Home-server name rules (docs/protocol.md#root-cert): no UID, no uniqueIdentifier, at least one DC, at
 * most one CN (the library tolerates a CN; we never emit one). Returns the domain the DCs spell.
 */
export function checkHomeServerName(s: NameSummary, code: string, field: string): string {
  if (s.uid.length > 0) fail(code, `${field}.uid`, 'a home-server name carries no UID');
  if (s.uniqueIdentifier.length > 0) fail(code, `${field}.uniqueIdentifier`, 'a home-server name carries no uniqueIdentifier');
  checkCounts(s, code, field);
  return domainOfDcs(s.dc);
}

/**
 * The home server's subject/issuer Name: one DC per label, TLD first in DER, IA5String, no CN
 * (docs/protocol.md#root-cert). `domain` is normalized (lowercased) first.
 */
export function buildHomeServerSubject(domain: string): Uint8Array {
  const labels = normalizeDomain(domain).split('.').reverse();
  const dcOid = tlv(TAG.OID, OID_DC);
  return tlv(TAG.SEQUENCE, ...labels.map((l) => tlv(TAG.SET, tlv(TAG.SEQUENCE, dcOid, tlv(TAG.IA5_STRING, Buffer.from(l, 'latin1'))))));
}
