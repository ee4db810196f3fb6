import { fail, PolyprotoError } from './errors';

/** Gateway op codes of the `core` namespace (2025 core text §3.2.1.2; docs/protocol.md#event-items). */
export const GATEWAY_OPCODE = {
  heartbeat: 0,
  hello: 1,
  identify: 2,
  newSession: 3,
  actorCertificateInvalidation: 4,
  resume: 5,
  serverCertificateChange: 6,
  heartbeatAck: 7,
  serviceChannel: 8,
  serviceChannelAck: 9,
  resumed: 10,
  heartbeatRequest: 11,
} as const;

/** WebSocket close codes of the 2025 core text §3.2.5; `resumable` is its "eligible for RESUME" column. */
export const GATEWAY_CLOSE = {
  unknownError: { code: 4000, resumable: true },
  unknownOpcode: { code: 4001, resumable: true },
  invalidPayload: { code: 4002, resumable: true },
  notAuthenticated: { code: 4003, resumable: false },
  invalidAuthentication: { code: 4004, resumable: false },
  alreadyAuthenticated: { code: 4005, resumable: false },
  invalidSequence: { code: 4007, resumable: true },
  rateLimited: { code: 4008, resumable: false },
  timeout: { code: 4009, resumable: true },
  unresumable: { code: 4010, resumable: false },
} as const;

export type GatewayClose = (typeof GATEWAY_CLOSE)[keyof typeof GATEWAY_CLOSE];

/** The `d` of a Heartbeat (op 0): the sequence numbers received since the last one, as a closed
 * range minus exceptions. `to` = 0 means nothing was received (what polyproto-rs sends then). */
export interface HeartbeatPayload {
  readonly from: number;
  readonly to: number;
  readonly except: readonly number[];
}

/** What a client may send. Op 4 (a client announcing an invalidation) is read and ignored: this
 * server takes invalidations through `DELETE /session`. */
export type ClientMessage =
  | { readonly op: 0; readonly d: HeartbeatPayload }
  | { readonly op: 2; readonly d: { readonly token: string } }
  | { readonly op: 4 }
  | { readonly op: 5; readonly d: { readonly s: number; readonly token: string } }
  | { readonly op: 8; readonly d: { readonly action: string; readonly service: string } };

const SERVER_ONLY_OPCODES: ReadonlySet<number> = new Set([1, 3, 6, 7, 9, 10, 11]);

/**
 * Reads one text frame from a client: the 2025 envelope `{n, op, d}` with `n` = "core" (or absent),
 * `op` and every number inside `d` as a JSON number or a decimal string (polyproto-rs writes them as
 * strings). Throws a {@link PolyprotoError}: `GATEWAY_OPCODE_UNKNOWN` for an op code a client may not
 * send, `GATEWAY_MESSAGE_INVALID` for anything else malformed; {@link gatewayCloseFor} maps both.
 */
export function parseClientMessage(text: string): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail('GATEWAY_MESSAGE_INVALID', 'message', '2025 §3.2.1: a gateway message is a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('GATEWAY_MESSAGE_INVALID', 'message', '2025 §3.2.1: a gateway message is a JSON object');
  }
  const envelope = value as Record<string, unknown>;
  if (envelope.n !== undefined && envelope.n !== 'core') {
    fail('GATEWAY_MESSAGE_INVALID', 'n', '2025 §3.2.1.1: this gateway serves the namespace "core" only');
  }
  const op = readUnsigned(envelope.op, 'op');
  const d = envelope.d;
  switch (op) {
    case GATEWAY_OPCODE.heartbeat:
      return { op, d: readHeartbeat(d) };
    case GATEWAY_OPCODE.identify:
      return { op, d: { token: readToken(d) } };
    case GATEWAY_OPCODE.actorCertificateInvalidation:
      return { op };
    case GATEWAY_OPCODE.resume:
      return { op, d: { s: readUnsigned(field(d, 's'), 'd.s'), token: readToken(d) } };
    case GATEWAY_OPCODE.serviceChannel:
      return { op, d: { action: readString(field(d, 'action'), 'd.action'), service: readString(field(d, 'service'), 'd.service') } };
    default:
      if (SERVER_ONLY_OPCODES.has(op)) fail('GATEWAY_OPCODE_UNKNOWN', 'op', `2025 §3.2.1.2: op ${op} is sent by servers only`);
      return fail('GATEWAY_OPCODE_UNKNOWN', 'op', `2025 §3.2.1.2: op ${op} is not a core op code`);
  }
}

/** The close code for a refusal of {@link parseClientMessage} or {@link ReceivedSequences}. */
export function gatewayCloseFor(error: PolyprotoError): GatewayClose {
  if (error.code === 'GATEWAY_OPCODE_UNKNOWN') return GATEWAY_CLOSE.unknownOpcode;
  if (error.code === 'GATEWAY_SEQUENCE_INVALID') return GATEWAY_CLOSE.invalidSequence;
  return GATEWAY_CLOSE.invalidPayload;
}

function readHeartbeat(d: unknown): HeartbeatPayload {
  // Before anything was received, a client may send an empty `d` (or none): nothing to confirm.
  if (d === undefined || d === null || (typeof d === 'object' && !Array.isArray(d) && Object.keys(d).length === 0)) return { from: 0, to: 0, except: [] };
  const from = readUnsigned(field(d, 'from'), 'd.from');
  const to = readUnsigned(field(d, 'to'), 'd.to');
  const rawExcept = (d as Record<string, unknown>).except ?? [];
  if (!Array.isArray(rawExcept)) fail('GATEWAY_MESSAGE_INVALID', 'd.except', '2025 §3.2.3.8: except is an array of sequence numbers');
  return { from, to, except: rawExcept.map((v, i) => readUnsigned(v, `d.except[${i}]`)) };
}

function readToken(d: unknown): string {
  const token = readString(field(d, 'token'), 'd.token');
  if (token.length > 512) fail('GATEWAY_MESSAGE_INVALID', 'd.token', 'a session token is at most 512 characters');
  return token;
}

function field(d: unknown, name: string): unknown {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) fail('GATEWAY_MESSAGE_INVALID', 'd', '2025 §3.2.3: this op code carries an object in d');
  return (d as Record<string, unknown>)[name];
}

function readString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) fail('GATEWAY_MESSAGE_INVALID', name, 'a non-empty string is required');
  return value;
}

/** A JSON number or decimal string holding an integer in [0, 2^53 − 1]. */
function readUnsigned(value: unknown, name: string): number {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    fail('GATEWAY_MESSAGE_INVALID', name, 'an unsigned integer (JSON number or decimal string) is required');
  }
  return n;
}
