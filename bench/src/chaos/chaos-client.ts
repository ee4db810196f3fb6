/**
 * The chaos load's HTTP side: requests to a cluster of gateways, each answer counted, writes
 * retried with their Idempotency-Key until they are answered (a 503 or a lost connection leaves the
 * outcome open; the retry gets the first outcome, so a write is applied once however often it is
 * sent). Nothing here knows the faults.
 */
import { randomUUID } from 'node:crypto';

export const API_PREFIX = '/.p2/core/v1';

/** What the clients saw during one scenario. */
export class Tally {
  /** HTTP requests that got an answer */
  sent = 0;
  ok = 0;
  /** 503 with the uniform body */
  unavailable = 0;
  /** of `unavailable`: writes answered 503 before a command was sent (the gateway could not read
   * the session from the database), so without a command id; nothing was sent, a retry is safe */
  unavailableBeforeSend = 0;
  /** any other status: refusals, 5xx other than a proper 503 */
  other = 0;
  /** of `other`: 5xx (a 503 without the uniform body counts here) */
  otherServerErrors = 0;
  /** requests that got no answer (connection refused or cut: the gateway was killed) */
  noAnswer = 0;
  readonly samples: string[] = [];
  /** completed writes per second since the scenario started */
  readonly perSecond: number[] = [];

  constructor(private readonly startedAt: number) {}

  completed(): void {
    const second = Math.floor((Date.now() - this.startedAt) / 1000);
    while (this.perSecond.length <= second) this.perSecond.push(0);
    this.perSecond[second]!++;
  }

  sample(line: string): void {
    if (this.samples.length < 10) this.samples.push(line);
  }
}

export interface Request {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly token?: string;
  readonly json?: unknown;
}

export type Outcome = { readonly kind: 'accepted'; readonly body: unknown } | { readonly kind: 'refused'; readonly status: number } | { readonly kind: 'unknown' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ChaosClient {
  constructor(
    private readonly urls: readonly string[],
    /** how long a write is retried before its outcome is given up as unknown */
    private readonly retryWindowMs: number,
  ) {}

  /** A write: sent to gateway `preferred` (the next one after a lost connection), retried with one
   * Idempotency-Key on 503 and on a lost connection. */
  async write(request: Request, tally: Tally, preferred: number): Promise<Outcome> {
    const key = randomUUID();
    const deadline = Date.now() + this.retryWindowMs;
    let gateway = preferred;
    for (let attempt = 0; ; attempt++) {
      const answer = await this.once(request, this.urls[gateway % this.urls.length]!, key);
      if (answer === undefined) {
        tally.noAnswer++;
        gateway++;
      } else {
        tally.sent++;
        if (answer.status >= 200 && answer.status < 300) {
          tally.ok++;
          tally.completed();
          return { kind: 'accepted', body: answer.body };
        }
        if (answer.status !== 503 || !isUniform503(answer.body)) {
          this.countOther(tally, request, answer);
          return { kind: 'refused', status: answer.status };
        }
        tally.unavailable++;
        if (!/command id [0-9a-f-]{36}/.test((answer.body as { message: string }).message)) tally.unavailableBeforeSend++;
      }
      if (Date.now() > deadline) return { kind: 'unknown' };
      await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
    }
  }

  /** A read: sent once. */
  async read(request: Request, tally: Tally, gateway: number): Promise<void> {
    const answer = await this.once(request, this.urls[gateway % this.urls.length]!);
    if (answer === undefined) {
      tally.noAnswer++;
      return;
    }
    tally.sent++;
    if (answer.status >= 200 && answer.status < 300) tally.ok++;
    else if (answer.status === 503 && isUniform503(answer.body)) tally.unavailable++;
    else this.countOther(tally, request, answer);
  }

  private countOther(tally: Tally, request: Request, answer: { status: number; body: unknown }): void {
    tally.other++;
    if (answer.status >= 500) tally.otherServerErrors++;
    tally.sample(`${request.method} ${request.path} → ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
  }

  private async once(request: Request, baseUrl: string, idempotencyKey?: string): Promise<{ status: number; body: unknown } | undefined> {
    const headers: Record<string, string> = {};
    if (request.json !== undefined) headers['content-type'] = 'application/json';
    if (request.token) headers.authorization = `Bearer ${request.token}`;
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    try {
      const res = await fetch(`${baseUrl}${API_PREFIX}${request.path}`, {
        method: request.method,
        headers,
        body: request.json === undefined ? undefined : JSON.stringify(request.json),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: kept as text for the sample
      }
      return { status: res.status, body };
    } catch {
      return undefined;
    }
  }
}

/** A 503 as docs/protocol.md describes it: the uniform body, `error` P2CORE_UNAVAILABLE. */
function isUniform503(body: unknown): boolean {
  const b = body as { errcode?: unknown; error?: unknown; message?: unknown } | undefined;
  return !!b && b.errcode === 503 && b.error === 'P2CORE_UNAVAILABLE' && typeof b.message === 'string';
}
