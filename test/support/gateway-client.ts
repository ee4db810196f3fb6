import WebSocket from 'ws';
import { eventually } from '@p2/testing';

/* eslint-disable @typescript-eslint/no-explicit-any */

/** A WebSocket client of the polyproto gateway for the end-to-end tests: records every message and
 * the close, and (like a real client) sends a Heartbeat at the announced interval confirming what it
 * received, unless told to stay silent (`heartbeats: false`, closed by the gateway after a while) or
 * to confirm nothing (`'empty'`: kept open, every item left unacknowledged). */
export class GatewayClient {
  readonly messages: any[] = [];
  closed?: { code: number; reason: string };
  private heartbeatTimer?: NodeJS.Timeout;
  private confirmedUpTo = 0;

  private constructor(
    readonly socket: WebSocket,
    private readonly options: { heartbeats: boolean | 'empty' },
  ) {
    socket.on('message', (data) => this.messages.push(JSON.parse(data.toString())));
    socket.on('close', (code, reason) => {
      clearInterval(this.heartbeatTimer);
      this.closed = { code, reason: reason.toString() };
    });
  }

  /** Opens a socket to `<gatewayUrl>/.p2/core/v1/gateway` and waits for Hello. */
  static async connect(gatewayUrl: string, options: { heartbeats?: boolean | 'empty'; path?: string } = {}): Promise<GatewayClient> {
    const url = `${gatewayUrl.replace(/^http/, 'ws')}${options.path ?? '/.p2/core/v1/gateway'}`;
    const socket = new WebSocket(url);
    const client = new GatewayClient(socket, { heartbeats: options.heartbeats ?? true });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const hello = await client.next((m) => m.op === 1);
    if (client.options.heartbeats) {
      const beat = client.options.heartbeats === 'empty' ? () => client.heartbeat({ from: 0, to: 0 }) : () => client.heartbeat();
      client.heartbeatTimer = setInterval(beat, Number(hello.d.heartbeatInterval) / 2);
    }
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Identify (op 2) and wait until the gateway has handled it: messages are handled in order, so
   * the Heartbeat ACK to the heartbeat sent right after means the Identify went through. */
  async identify(token: string): Promise<void> {
    this.send({ n: 'core', op: 2, d: { token } });
    await this.sync();
  }

  /** Resume (op 5) after `s`, written the way polyproto-rs writes numbers (as strings). */
  resume(token: string, s: number): void {
    this.send({ n: 'core', op: '5', d: { s: String(s), token } });
  }

  /** A heartbeat; by default it confirms the items received since the previous one. */
  heartbeat(d?: { from: number; to: number; except?: number[] }): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    let payload = d;
    if (!payload) {
      const fresh = this.items().map((m) => Number(m.s)).filter((s) => s > this.confirmedUpTo);
      if (fresh.length === 0) payload = { from: 0, to: 0 };
      else {
        const from = Math.min(...fresh);
        const to = Math.max(...fresh);
        const seen = new Set(fresh);
        const except: number[] = [];
        for (let s = from; s <= to; s++) if (!seen.has(s)) except.push(s);
        payload = { from, to, except };
        this.confirmedUpTo = to;
      }
    }
    this.send({ n: 'core', op: 0, d: { from: String(payload.from), to: String(payload.to), except: (payload.except ?? []).map(String) } });
  }

  /** Sends an empty heartbeat and waits for its ACK (or for the socket to close). */
  async sync(): Promise<void> {
    const acks = this.messages.filter((m) => m.op === 7).length;
    this.send({ n: 'core', op: 0, d: { from: '0', to: '0' } });
    await eventually(() => this.closed !== undefined || this.messages.filter((m) => m.op === 7).length > acks, { until: Boolean, what: 'heartbeat ACK' });
  }

  /** Inbox items received (the messages that carry a sequence number), in order. */
  items(): any[] {
    return this.messages.filter((m) => m.s !== undefined);
  }

  async next(predicate: (message: any) => boolean, timeoutMs = 10000): Promise<any> {
    return eventually(() => this.messages.find(predicate), { until: (m) => m !== undefined, timeoutMs, what: 'message' });
  }

  async closedWith(timeoutMs = 15000): Promise<{ code: number; reason: string }> {
    return (await eventually(() => this.closed, { until: (c) => c !== undefined, timeoutMs, what: 'close' }))!;
  }

  close(): void {
    clearInterval(this.heartbeatTimer);
    this.socket.close(1000);
  }
}
