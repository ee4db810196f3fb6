import { GATEWAY_OPCODE } from '@p2/polyproto';

/** The messages the gateway writes besides inbox items, as JSON text. They carry no `s`: sequence
 * numbers belong to inbox items only (docs/protocol.md#websocket). */
export const serverMessages = {
  /** polyproto-rs reads `heartbeatInterval` with DisplayFromStr, so it is a string (docs/protocol.md#websocket). */
  hello: (heartbeatIntervalMs: number) => JSON.stringify({ n: 'core', op: GATEWAY_OPCODE.hello, d: { heartbeatInterval: String(heartbeatIntervalMs) } }),
  /** `d` holds the items the heartbeat asked for again (2025 §3.2.6); it is present even when empty. */
  heartbeatAck: (items: readonly { json: string }[]) => `{"n":"core","op":${GATEWAY_OPCODE.heartbeatAck},"d":[${items.map((i) => i.json).join(',')}]}`,
  heartbeatRequest: () => JSON.stringify({ n: 'core', op: GATEWAY_OPCODE.heartbeatRequest, d: {} }),
  /** Sent after the missed items themselves (the 2024 sequence: missed events, then Resumed). */
  resumed: () => JSON.stringify({ n: 'core', op: GATEWAY_OPCODE.resumed, d: [] }),
  serviceChannelRefused: (action: string, service: string) =>
    JSON.stringify({
      n: 'core',
      op: GATEWAY_OPCODE.serviceChannelAck,
      d: { action, service, success: false, error: 'This server offers no service channels.' },
    }),
} as const;
