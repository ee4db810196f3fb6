import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG } from '@p2/platform';
import { httpFreshSeconds } from './http-freshness';
import { isPublicAddress } from './public-address';

/** Another home server could not be asked: no connection, a timeout, a 5xx, or an answer that is
 * not a usable document (too large, a redirect, not JSON). Callers may fall back to what they
 * cached (docs/protocol.md#federation-cache). The message never carries the answer's body. */
export class HomeServerUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HomeServerUnreachable';
  }
}

/** A JSON answer of another home server. */
export interface FederationAnswer {
  readonly status: number;
  readonly body: unknown;
  /** how long the answer may be reused by its HTTP caching headers, when they say */
  readonly freshSeconds?: number;
}

const USER_AGENT = 'polyproto-home-server (federation)';

/** How long a kept-alive socket to another home server may stay idle (Node's global agent's value). */
export const FEDERATION_IDLE_SOCKET_MS = 5_000;

/**
 * GETs JSON from other home servers with the limits of docs/protocol.md#federation-http: a connect
 * timeout and a deadline for the whole request, a size limit, no redirects, TLS verified by Node's
 * defaults, https only — plain http and private addresses only for the names an operator listed in
 * P2_FEDERATION_RESOLVE (`trusted`). Identical requests in flight share one answer.
 */
@Injectable()
export class FederationHttpClient implements OnModuleDestroy {
  private readonly inFlight = new Map<string, Promise<FederationAnswer>>();
  /**
   * Connection pools of their own, one for the names an operator listed and one for everyone
   * else's (docs/protocol.md#federation-http). An agent pools sockets by host and port, not by
   * how the name was resolved: in one shared pool (Node's global agent keeps connections alive),
   * a request for a name anyone may send would reuse a connection a trusted request opened to a
   * private address, past publicOnlyLookup. In the untrusted pool every socket was opened to an
   * address publicOnlyLookup allowed for that very host, so reusing it is safe.
   * Idle sockets close after FEDERATION_IDLE_SOCKET_MS, as the global agent's do: anyone can
   * present certs of many domains they control, and a pool that kept every far server's idle
   * socket until that server closed it would run the gateway out of file descriptors.
   */
  private readonly agents = {
    trusted: new HttpsAgent({ keepAlive: true, timeout: FEDERATION_IDLE_SOCKET_MS }),
    trustedPlain: new HttpAgent({ keepAlive: true, timeout: FEDERATION_IDLE_SOCKET_MS }),
    untrusted: new HttpsAgent({ keepAlive: true, timeout: FEDERATION_IDLE_SOCKET_MS }),
  };

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onModuleDestroy(): void {
    for (const agent of Object.values(this.agents)) agent.destroy();
  }

  getJson(url: URL, trusted: boolean): Promise<FederationAnswer> {
    const key = `${trusted ? 't' : 'u'} ${url.href}`;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const request = this.fetch(url, trusted).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, request);
    return request;
  }

  private fetch(url: URL, trusted: boolean): Promise<FederationAnswer> {
    const { connectTimeoutMs, requestTimeoutMs, maxResponseBytes } = this.config.federation;
    if (url.protocol !== 'https:' && !(trusted && url.protocol === 'http:')) {
      return Promise.reject(new HomeServerUnreachable(`${url.origin} is not https (plain http only for names in P2_FEDERATION_RESOLVE)`));
    }
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (!trusted && isIP(literal) !== 0 && !isPublicAddress(literal)) {
      return Promise.reject(new HomeServerUnreachable(`${url.host} is not a public address`));
    }
    return new Promise<FederationAnswer>((resolve, reject) => {
      const options = { method: 'GET', headers: { accept: 'application/json', 'user-agent': USER_AGENT } };
      const req =
        url.protocol === 'http:'
          ? httpRequest(url, { ...options, agent: this.agents.trustedPlain })
          : trusted
            ? httpsRequest(url, { ...options, agent: this.agents.trusted })
            : httpsRequest(url, { ...options, agent: this.agents.untrusted, lookup: publicOnlyLookup });
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        outcome();
      };
      const fail = (message: string) => {
        settle(() => reject(new HomeServerUnreachable(`${url.origin}: ${message}`)));
        req.destroy();
      };
      const deadline = setTimeout(() => fail(`no complete answer within ${requestTimeoutMs} ms`), requestTimeoutMs);
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const connectTimer = setTimeout(() => fail(`no connection within ${connectTimeoutMs} ms`), connectTimeoutMs);
        socket.once('connect', () => clearTimeout(connectTimer));
        socket.once('close', () => clearTimeout(connectTimer));
      });
      req.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) return fail(`answered a redirect (${status}), which is refused`);
        if (status >= 500) return fail(`answered ${status}`);
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxResponseBytes) return fail(`answer of ${declared} bytes is over ${maxResponseBytes}`);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponseBytes) return fail(`answer is over ${maxResponseBytes} bytes`);
          chunks.push(chunk);
        });
        res.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            return fail(`the answer (${status}) is not JSON`);
          }
          settle(() => resolve({ status, body, ...freshness(res.headers) }));
        });
      });
      req.end();
    });
  }
}

function freshness(headers: IncomingHttpHeaders): { freshSeconds?: number } {
  const seconds = httpFreshSeconds(headers['cache-control'], headers.expires, headers.date);
  return seconds === undefined ? {} : { freshSeconds: seconds };
}

/** dns.lookup that keeps only public addresses: a name anyone may send us must not make this server
 * fetch from its own network (docs/protocol.md#federation-http). */
function publicOnlyLookup(
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, '');
    const allowed = addresses.filter((a) => isPublicAddress(a.address));
    if (allowed.length === 0) {
      return callback(Object.assign(new Error(`${hostname} resolves to no public address`), { code: 'ENOTPUBLIC' }), '');
    }
    if (options.all) return callback(null, allowed);
    callback(null, allowed[0]!.address, allowed[0]!.family);
  });
}
