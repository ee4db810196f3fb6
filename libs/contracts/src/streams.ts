/** Stream ids of the event store; also the Kafka key of the commands and events of that aggregate,
 * so that everything about one actor lands on one partition, in order. */
export const SERVER_STREAM = 'server';

const ACTOR_STREAM_PREFIX = 'actor-';

export function actorStream(federationId: string): string {
  return `${ACTOR_STREAM_PREFIX}${federationId}`;
}

/** Whether `streamId` is an actor's stream (sessions, their certs and tokens); no other stream id
 * starts as one does. */
export function isActorStream(streamId: string): boolean {
  return streamId.startsWith(ACTOR_STREAM_PREFIX);
}

/** The events inbox of one session (GET /events): only its fetch position is decided on. */
export function inboxStream(federationId: string, sessionId: string): string {
  return `inbox-${federationId}#${sessionId}`;
}

/** The actor's encrypted private key material (docs/protocol.md#key-material); its commands still travel under the
 * actor's key, so they are ordered with the actor's other commands. */
export function keyMaterialStream(federationId: string): string {
  return `keymaterial-${federationId}`;
}

/** The KeyPackages of one actor (docs/protocol.md#key-packages); its commands travel under the actor's key, so they
 * are ordered with the actor's other commands. */
export function keyPackagesStream(federationId: string): string {
  return `keypackages-${federationId}`;
}

/** Another home server's roots as this server has seen and verified them (docs/protocol.md#federation-cache). */
export function foreignServerStream(domain: string): string {
  return `foreign-server-${domain}`;
}

/** A session of another home server's actor signed in here (docs/protocol.md#foreign-sessions):
 * its certs as its home server vouched for them, and its token. */
export function foreignSessionStream(federationId: string, sessionId: string): string {
  return `foreign-${federationId}#${sessionId}`;
}
