import type { Message } from '@p2/contracts';

/** What a part of the gateway wants from `p2.core.events.v1` (the hooks as in EventSubscriberOptions). */
export interface GatewayEventsListener {
  /** Called for every event, in order per partition. */
  readonly onEvent: (event: Message) => Promise<void> | void;
  /** A failure of this listener's onEvent: the event is skipped for it, never for the others. */
  readonly onError: (error: unknown, event: Message) => void;
  /** After every (re)join of the group: events published while not a member were not seen. */
  readonly onJoined?: () => void;
  /** Once the consumer reads from its start offsets after a (re)join: every event published from
   * then on is delivered, until onLeft. */
  readonly onPositioned?: () => void;
  /** When the consumer stops being a member; may be called more than once per leaving. */
  readonly onLeft?: () => void;
}

/**
 * Hands what one consumer reads to every listener, in the order they were added. The listeners
 * share that consumer, so one that throws must cost the others nothing: each call is isolated, and
 * the failure goes to that listener's onError (an event) or to `failed` (a membership hook, or an
 * onError that threw itself).
 */
export class EventsFanOut {
  private readonly listeners: GatewayEventsListener[] = [];

  constructor(private readonly failed: (what: string, error: unknown) => void) {}

  add(listener: GatewayEventsListener): void {
    this.listeners.push(listener);
  }

  async event(event: Message): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await listener.onEvent(event);
      } catch (error) {
        try {
          listener.onError(error, event);
        } catch (reportError) {
          this.failed(`onError of ${event.type} ${event.metadata.messageId}`, reportError);
        }
      }
    }
  }

  joined(): void {
    this.hook('onJoined');
  }

  positioned(): void {
    this.hook('onPositioned');
  }

  left(): void {
    this.hook('onLeft');
  }

  private hook(name: 'onJoined' | 'onPositioned' | 'onLeft'): void {
    for (const listener of this.listeners) {
      try {
        listener[name]?.();
      } catch (error) {
        this.failed(name, error);
      }
    }
  }
}
