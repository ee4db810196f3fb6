import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
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

/** Sockets one pool holds open at most, in use and idle together; a request past them waits for a
 * turn (docs/protocol.md#federation-http). */
export const FEDERATION_MAX_SOCKETS = 128;

/** Requests of one pool that may wait for a turn; one more is refused at once, as "cannot be asked". */
export const FEDERATION_MAX_WAITING = 512;

/** A request's place in a pool: it runs, or waits for a turn, until it leaves. */
type Place = 'running' | 'waiting' | 'left';

/**
 * One pool's requests: at most `max` run at once, the others wait in line, at most `maxWaiting` of
 * them. Node's Agent bounds sockets only per host with maxSockets, and with maxTotalSockets queues
 * a request behind the idle sockets of other hosts until they time out; its queue has no bound,
 * and a request given up on keeps its place in it. So the line is kept here, and the agent never
 * queues: no more requests run than the bound allows, and makeRoom closes idle sockets for them.
 */
class Turns {
  private running = 0;
  /** Waiting requests, oldest first; each is handed its turn by a call. */
  private readonly waiting = new Set<() => void>();

  /** A place for a request: `start` runs when its turn comes, on a later turn of the event loop
   * even when one is free now (so that the caller holds what leaves before anything runs). Returns
   * how to leave (give the turn back, or the place in line), or undefined when the line is full. */
  enter(max: number, maxWaiting: number, start: () => void): (() => void) | undefined {
    let place: Place;
    const leave = () => {
      if (place === 'running') this.giveBack();
      else if (place === 'waiting') this.waiting.delete(turnCame);
      place = 'left';
    };
    // on the next loop turn: a socket a finished request gives back is in the pool again by then
    // (Node returns it on the next tick), so a request to the same host reuses it
    const turnCame = () => {
      place = 'running';
      setImmediate(() => {
        if (place === 'running') start();
      });
    };
    if (this.running < max) {
      this.running++;
      turnCame();
    } else if (this.waiting.size < maxWaiting) {
      place = 'waiting';
      this.waiting.add(turnCame);
    } else {
      return undefined;
    }
    return leave;
  }

  private giveBack(): void {
    this.running--;
    const next = this.waiting.values().next();
    if (next.done) return;
    this.waiting.delete(next.value);
    this.running++;
    next.value();
  }
}

/** Closes idle sockets of `agent` until at most `max` are open, once a request has opened a new one:
 * the pool stays within its bound. An idle socket is the cheapest to lose: at worst a later request
 * to that host connects again. (Only after a new socket: a request that reuses an idle one adds none.) */
function makeRoom(agent: HttpAgent, max: number): void {
  const live = (pool: NodeJS.ReadOnlyDict<Socket[]>) => Object.values(pool).reduce((n, sockets) => n + (sockets?.filter((s) => !s.destroyed).length ?? 0), 0);
  let surplus = live(agent.sockets) + live(agent.freeSockets) - max;
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) {
      if (surplus <= 0) return;
      if (socket.destroyed) continue;
      socket.destroy();
      surplus--;
    }
  }
}

interface Pool {
  readonly agent: HttpAgent;
  readonly turns: Turns;
}

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
   * For the same reason a pool holds at most maxSockets sockets, in use and idle together, and
   * requests past them wait for a turn (Turns).
   */
  private readonly pools: Record<'trusted' | 'trustedPlain' | 'untrusted', Pool> = {
    trusted: { agent: new HttpsAgent({ keepAlive: true, timeout: FEDERATION_IDLE_SOCKET_MS }), turns: new Turns() },
    trustedPlain: { agent: new HttpAgent({ keepAlive: true, timeout: FEDERATION_IDLE_SOCKET_MS }), turns: new Turns() },
    untrusted: { agent: new HttpsAgent({ keepAlive: true, timeout: FEDERATION_IDLE_SOCKET_MS }), turns: new Turns() },
  };
  protected readonly maxSockets: number = FEDERATION_MAX_SOCKETS;
  protected readonly maxWaiting: number = FEDERATION_MAX_WAITING;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onModuleDestroy(): void {
    for (const { agent } of Object.values(this.pools)) agent.destroy();
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
    const { requestTimeoutMs } = this.config.federation;
    if (url.protocol !== 'https:' && !(trusted && url.protocol === 'http:')) {
      return Promise.reject(new HomeServerUnreachable(`${url.origin} is not https (plain http only for names in P2_FEDERATION_RESOLVE)`));
    }
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (!trusted && isIP(literal) !== 0 && !isPublicAddress(literal)) {
      return Promise.reject(new HomeServerUnreachable(`${url.host} is not a public address`));
    }
    const pool = url.protocol === 'http:' ? this.pools.trustedPlain : trusted ? this.pools.trusted : this.pools.untrusted;
    return new Promise<FederationAnswer>((resolve, reject) => {
      let req: ClientRequest | undefined;
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        leave?.();
        outcome();
      };
      const fail = (message: string) => {
        settle(() => reject(new HomeServerUnreachable(`${url.origin}: ${message}`)));
        req?.destroy();
      };
      // from the call, not from the turn: time spent waiting in line is inside the deadline
      const deadline = setTimeout(() => fail(`no complete answer within ${requestTimeoutMs} ms`), requestTimeoutMs);
      const leave = pool.turns.enter(this.maxSockets, this.maxWaiting, () => {
        const options = { method: 'GET', headers: { accept: 'application/json', 'user-agent': USER_AGENT } };
        try {
          req =
            url.protocol === 'http:'
              ? httpRequest(url, { ...options, agent: pool.agent })
              : trusted
                ? httpsRequest(url, { ...options, agent: pool.agent })
                : httpsRequest(url, { ...options, agent: pool.agent, lookup: publicOnlyLookup });
        } catch (error) {
          return fail(error instanceof Error ? error.message : String(error));
        }
        req.on('socket', (socket) => {
          if (socket.connecting) makeRoom(pool.agent, this.maxSockets);
        });
        this.exchange(req, fail, (answer) => settle(() => resolve(answer)));
      });
      if (!leave) fail(`${this.maxWaiting} requests to other home servers already wait for a socket`);
    });
  }

  /** Sends `req` and reads its answer within the limits, to `done`; anything else to `fail`. */
  private exchange(req: ClientRequest, fail: (message: string) => void, done: (answer: FederationAnswer) => void): void {
    const { connectTimeoutMs, maxResponseBytes } = this.config.federation;
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
        done({ status, body, ...freshness(res.headers) });
      });
    });
    req.end();
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
