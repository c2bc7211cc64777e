/**
 * An already running container at a URL: one instance. It is ready once `/ping` answers 200 and
 * leaves `ready()` after three failed pings in a row (as process instances are replaced); it is
 * never started or stopped by us, only watched, so `resize` does nothing: such an endpoint is
 * not scaled.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { modelBaseUrl, type OutboundPolicy } from '../outbound/index.js';
import type { Instance, InstancePool } from './instance-pool.js';
import { ping, UNHEALTHY_AFTER_FAILED_PINGS } from './ping.js';

export interface UrlPoolOptions {
  endpointName: string;
  url: string;
  logger: Logger;
  pingIntervalMs?: number;
  /**
   * For a URL a caller named (CreateModel's Image): the outbound policy its host must pass on every
   * health check (the addresses it resolves to now), so a name that starts resolving to a refused
   * address takes the instance out of use.
   */
  policy?: OutboundPolicy;
}

export function createUrlPool(options: UrlPoolOptions): InstancePool {
  const instance: Instance = { id: `${options.endpointName}-url`, url: modelBaseUrl(options.url) };
  const events = new EventEmitter();
  const stopping = new AbortController();
  let ready = false;
  let failed = 0;
  let loop: Promise<void> | undefined;

  async function watch(): Promise<void> {
    while (!stopping.signal.aborted) {
      const allowed = !options.policy || await options.policy.urlAllowed(instance.url);
      failed = allowed && (await ping(instance.url, 2000)) ? 0 : failed + 1;
      const ok = ready ? failed < UNHEALTHY_AFTER_FAILED_PINGS : failed === 0;
      if (ok !== ready) {
        ready = ok;
        options.logger[ok ? 'info' : 'warn']({ instance: instance.id, url: instance.url }, ok ? 'model URL ready' : 'model URL not answering GET /ping');
        events.emit('change');
      }
      // Poll fast until it first answers, then at the health-check interval.
      await sleep(ready ? options.pingIntervalMs ?? 5000 : 200, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  }

  return {
    async start() {
      loop = watch();
    },
    async stop() {
      stopping.abort();
      await loop;
    },
    ready: () => (ready ? [instance] : []),
    counts: () => ({ starting: ready ? 0 : 1, ready: ready ? 1 : 0, draining: 0 }),
    resize() {},
    onChange(listener) {
      events.on('change', listener);
      return () => events.off('change', listener);
    },
  };
}
