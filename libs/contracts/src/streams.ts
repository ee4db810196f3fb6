/** Stream ids of the event store; also the Kafka key of the commands and events of that aggregate,
 * so that everything about one actor lands on one partition, in order. */
export const SERVER_STREAM = 'server';

export function actorStream(federationId: string): string {
  return `actor-${federationId}`;
}
