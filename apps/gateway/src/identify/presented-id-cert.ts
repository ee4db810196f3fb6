import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE } from '@p2/contracts';
import { checkActorCertAgainstRoot, decodePemOrDer, PolyprotoError, readIdCert, type IdCert } from '@p2/polyproto';
import { idCert, serverCert, type IdCertRecord } from '@p2/read-models';
import { APP_CONFIG } from '@p2/platform';
import { badRequest } from '../http/api-error';
import { unquotedPemField } from '../http/pem-field';
import { ReadDatabase } from '../read-models/read-database';

/** An actor cert presented by a client, parsed, with its federation ID and session ID. */
export type PresentedActorCert = IdCert & { readonly federationId: NonNullable<IdCert['federationId']>; readonly sessionId: string };

const malformed = (message: string) => badRequest(message, ERROR_CODE.malformedCert);

/**
 * ID-Certs that clients present (identify, extern announcements): parsed without state, then
 * either matched against what this server issued, or — a cert of another home server — vouched
 * for through federation (ForeignCertVerifier, docs/protocol.md#federation-verification).
 *
 * A cert that names THIS server as issuer but that it never issued (unknown serial, different
 * bytes, or no valid signature of the root recorded as its issuer) is a 400 P2CORE_MALFORMED_CERT:
 * it is not a cert of this server, whatever it says.
 */
@Injectable()
export class PresentedIdCerts {
  /** Parsed roots by serial; a root never changes once issued. */
  private readonly roots = new Map<string, IdCert>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly db: ReadDatabase,
  ) {}

  /** PEM, a JSON string holding the PEM, or base64 DER; `{"id_cert": …}` when `value` is a body
   * object. Unparsable → 400 P2CORE_MALFORMED_CERT. */
  parse(value: unknown): PresentedActorCert {
    const text = certText(value);
    let cert: IdCert;
    try {
      cert = readIdCert(text, { target: 'actor' });
    } catch (error) {
      if (error instanceof PolyprotoError) throw malformed(`The ID-Cert was refused: ${error.message}`);
      throw error;
    }
    return cert as PresentedActorCert;
  }

  /** Whether the cert is one of another home server's actors (its issuer's DCs equal its
   * subject's, which spell the actor's domain: readIdCert checks both). */
  isForeign(cert: PresentedActorCert): boolean {
    return cert.federationId.domain !== this.config.domain;
  }

  /** The record of a cert this server issued, byte for byte, verified against the root recorded
   * as its issuer (the root may have been rotated since). Else 400 P2CORE_MALFORMED_CERT. */
  async issuedHere(cert: PresentedActorCert): Promise<IdCertRecord> {
    const notOurs = () => malformed(`This server never issued an ID-Cert with serial ${cert.serial} and these bytes.`);
    const record = await idCert(this.db, cert.serial.toString());
    if (!record || !Buffer.from(decodePemOrDer(record.pem, 'CERTIFICATE')).equals(cert.der)) throw notOurs();
    const root = await this.root(record.rootSerial);
    try {
      checkActorCertAgainstRoot(cert, root);
    } catch (error) {
      if (error instanceof PolyprotoError) throw notOurs();
      throw error;
    }
    return record;
  }

  private async root(serial: string): Promise<IdCert> {
    const cached = this.roots.get(serial);
    if (cached) return cached;
    const recorded = await serverCert(this.db, serial);
    if (!recorded) throw new Error(`root ${serial} of a recorded ID-Cert is missing from server_certs`);
    const root = readIdCert(recorded.pem, { target: 'home-server' });
    this.roots.set(serial, root);
    return root;
  }
}

/** The cert text of a request field or body (docs/protocol.md#pem-fields: PEM request fields may be raw PEM, a JSON
 * string or base64 DER). A JSON-encoded string inside the field is unwrapped once. */
function certText(value: unknown): string {
  let field = value;
  if (typeof field === 'object' && field !== null && !Array.isArray(field)) field = (field as Record<string, unknown>).id_cert;
  if (typeof field !== 'string' || field.trim() === '') {
    throw malformed('An ID-Cert is required: PEM, a JSON string holding the PEM, base64 DER, or {"id_cert": …}.');
  }
  const text = unquotedPemField(field.trim());
  if (text === undefined) throw malformed('The ID-Cert field holds a JSON value that is not a string.');
  return text;
}
