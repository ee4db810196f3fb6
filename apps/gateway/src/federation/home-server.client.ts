import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG } from '@p2/platform';
import { ERROR_CODE } from '@p2/contracts';
import {
  PolyprotoError,
  readActorCertsDocument,
  readHomeServerCertDocument,
  readWellKnown,
  type ActorCertEntry,
  type FederationId,
  type HomeServerCertDocument,
} from '@p2/polyproto';
import { FederationHttpClient, HomeServerUnreachable, type FederationAnswer } from './federation-http.client';

/** Where a domain's polyproto API lives, and whether it was named by the operator. */
interface ApiBase {
  readonly api: URL;
  readonly trusted: boolean;
}

/** How long a discovered API base is reused when its answer says nothing (it rarely changes). */
const DISCOVERY_REUSE_SECONDS = 3600;
/** Most discovered API bases kept (anyone may make this server look up a domain). */
const DISCOVERED_MAX = 1000;

/** A document of another home server with the HTTP freshness of its answer. */
export interface Fetched<T> {
  readonly document: T;
  readonly freshSeconds?: number;
}

/**
 * The requests this server makes to other home servers (docs/protocol.md#federation-discovery):
 * where a domain's API is (P2_FEDERATION_RESOLVE, else `https://<domain>/.well-known/polyproto-core`),
 * its root now or at a time, and an actor's certs — in the 2025 paths, falling back to the 2024
 * ones where a server does not have them. Answers are read, not trusted: ForeignCertVerifier
 * decides. A server that cannot be asked is HomeServerUnreachable.
 */
@Injectable()
export class HomeServerClient {
  private readonly discovered = new Map<string, { base: ApiBase; until: number }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly http: FederationHttpClient,
  ) {}

  /** The root `domain` names current, or the one it had at `timestamp` (UNIX seconds); undefined
   * when it says it had none at `timestamp` (never for the current root: HomeServerUnreachable). */
  async serverCert(domain: string, timestamp?: number): Promise<Fetched<HomeServerCertDocument> | undefined> {
    const query: Record<string, string> = timestamp === undefined ? {} : { timestamp: String(timestamp) };
    const answer = await this.get(domain, 'v1/idcert/server', query);
    if (answer.status === 200) return this.read(domain, answer, readHomeServerCertDocument);
    if (answer.status === 404 && errorOf(answer) === ERROR_CODE.noCertAtTime) {
      if (timestamp !== undefined) return undefined;
      // a home server always has a current root: saying it has none is an answer that cannot be
      // believed, as any other broken answer (docs/protocol.md#federation-http)
      throw new HomeServerUnreachable(`${domain} answered 404 ${ERROR_CODE.noCertAtTime} for its current root certificate`);
    }
    if (answer.status === 404 && timestamp === undefined) {
      // a 2024 server: the root as a JSON string PEM on /key/server
      const older = await this.get(domain, 'v1/key/server', {});
      if (older.status === 200) return this.read(domain, older, readHomeServerCertDocument);
    }
    throw new HomeServerUnreachable(`${domain} answered ${answer.status} for its root certificate`);
  }

  /** The certs `federationId`'s home server lists for one session; empty when it says the actor
   * does not exist. */
  async actorCerts(federationId: FederationId, sessionId: string): Promise<Fetched<ActorCertEntry[]>> {
    const { domain } = federationId;
    const path = `${encodeURIComponent(federationId.localName)}@${domain}`;
    const query = { session_id: sessionId };
    let answer = await this.get(domain, `v1/idcert/actor/${path}`, query);
    if (answer.status === 404 && errorOf(answer) !== ERROR_CODE.actorNotFound) {
      // a 2024 server: /key/actor/:fid
      answer = await this.get(domain, `v1/key/actor/${path}`, query);
    }
    if (answer.status === 404 && errorOf(answer) === ERROR_CODE.actorNotFound) return { document: [] };
    if (answer.status === 200) return this.read(domain, answer, readActorCertsDocument);
    throw new HomeServerUnreachable(`${domain} answered ${answer.status} for the certs of ${federationId.toString()}`);
  }

  private async get(domain: string, path: string, query: Record<string, string>): Promise<FederationAnswer> {
    const { api, trusted } = await this.apiBase(domain);
    const url = new URL(path, api);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return this.http.getJson(url, trusted);
  }

  private read<T>(domain: string, answer: FederationAnswer, reader: (json: unknown) => T): Fetched<T> {
    try {
      return { document: reader(answer.body), ...(answer.freshSeconds === undefined ? {} : { freshSeconds: answer.freshSeconds }) };
    } catch (error) {
      if (error instanceof PolyprotoError) throw new HomeServerUnreachable(`${domain} answered something that is not a polyproto document (${error.message})`);
      throw error;
    }
  }

  private async apiBase(domain: string): Promise<ApiBase> {
    const mapped = this.config.federation.resolve.get(domain);
    if (mapped) return { api: new URL(mapped), trusted: true };
    const known = this.discovered.get(domain);
    if (known && known.until > Date.now()) return known.base;
    const answer = await this.http.getJson(new URL(`https://${domain}/.well-known/polyproto-core`), false);
    if (answer.status !== 200) throw new HomeServerUnreachable(`${domain} has no /.well-known/polyproto-core (it answered ${answer.status})`);
    const { document: api } = this.read(domain, answer, readWellKnown);
    if (api.protocol !== 'https:') throw new HomeServerUnreachable(`${domain} announces a plain-http API, which is refused`);
    const base = { api, trusted: false };
    const reuse = Math.min(answer.freshSeconds ?? DISCOVERY_REUSE_SECONDS, this.config.federation.cacheMaxSeconds);
    if (reuse > 0) {
      if (this.discovered.size >= DISCOVERED_MAX) this.discovered.delete(this.discovered.keys().next().value!);
      this.discovered.set(domain, { base, until: Date.now() + reuse * 1000 });
    }
    return base;
  }
}

function errorOf(answer: FederationAnswer): unknown {
  return typeof answer.body === 'object' && answer.body !== null ? (answer.body as Record<string, unknown>).error : undefined;
}
