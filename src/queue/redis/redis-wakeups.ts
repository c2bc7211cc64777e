/**
 * Wake-ups for `onAvailable` and `onAdded`, in this process and across processes.
 *
 * The scripts that make work available (enqueue, release, reclaim) or add notifications publish
 * on `P:available` / `P:notifications` in the same script as the write, so no write goes without
 * its message. A second connection subscribes to both; ioredis subscribes again after a reconnect.
 * This process also emits its own events at once when its call returns (listeners may then hear
 * its own publication a second time; a wake-up is idempotent).
 *
 * Pub/sub is at most once: messages sent while a connection was down are lost. So after either
 * connection comes back, every endpoint that ever had work (`{P}:endpoints`) and the outbox are
 * woken once, and listeners look for themselves.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Redis } from './redis-connection.js';
import type { QueueKeys } from './redis-keys.js';

export interface Wakeups {
  available(endpointName: string): void;
  added(): void;
  onAvailable(listener: (endpointName: string) => void): () => void;
  onAdded(listener: () => void): () => void;
  /** Subscribes on `subscriber` (connected, dedicated to this) and watches both connections for reconnects. */
  attach(client: Redis, subscriber: Redis): Promise<void>;
}

const AVAILABLE = 'available';
const ADDED = 'notifications-added';

export function createWakeups(keys: QueueKeys, logger?: Logger): Wakeups {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const emit = (event: string, ...args: unknown[]) => {
    try {
      events.emit(event, ...args);
    } catch (err) {
      logger?.error({ err, event }, 'a queue listener threw');
    }
  };
  const available = (endpointName: string) => emit(AVAILABLE, endpointName);
  const added = () => emit(ADDED);

  return {
    available,
    added,
    onAvailable(listener) {
      events.on(AVAILABLE, listener);
      return () => events.off(AVAILABLE, listener);
    },
    onAdded(listener) {
      events.on(ADDED, listener);
      return () => events.off(ADDED, listener);
    },
    async attach(client, subscriber) {
      subscriber.on('message', (channel: string, message: string) => {
        if (channel === keys.channels.available) available(message);
        else if (channel === keys.channels.notifications) added();
      });
      await subscriber.subscribe(keys.channels.available, keys.channels.notifications);

      // Both connections are ready now; any later 'ready' is a reconnect.
      let missed = false;
      const wakeAll = () => {
        if (!missed || client.status !== 'ready' || subscriber.status !== 'ready') return;
        missed = false;
        client.smembers(keys.endpoints).then((names) => {
          for (const name of names) available(name);
          added();
        }, () => { missed = true; });
      };
      const reconnected = () => {
        missed = true;
        wakeAll();
      };
      client.on('ready', reconnected);
      subscriber.on('ready', reconnected);
    },
  };
}
