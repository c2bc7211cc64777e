/**
 * Webhook delivery: POST the event JSON, signed per Standard Webhooks when the target has a
 * secret. Only a 2xx counts as delivered. Redirects are failures and never followed: a signed
 * event must not be forwarded to wherever a receiver's Location points.
 */
import { request } from 'undici';
import { errorText, type Deliverer } from './deliverer.js';
import { webhookHeaders } from './standard-webhooks.js';
import type { WebhookTarget } from './targets.js';

const ERROR_BODY_PREVIEW = 300;

export function createWebhookDeliverer(options: { timeoutMs: number; now?: () => number }): Deliverer<WebhookTarget> {
  const now = options.now ?? Date.now;
  return {
    async deliver(target, event, signal) {
      const headers = {
        ...lowerCased(target.headers),
        'content-type': 'application/json',
        ...webhookHeaders({ id: event.id, body: event.message, nowMs: now(), ...(target.secret !== undefined && { secret: target.secret }) }),
      };
      try {
        // undici's request() follows no redirects; its own timeouts back up the signal.
        const res = await request(target.webhook, {
          method: 'POST', headers, body: event.message, signal,
          headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs,
        });
        if (res.statusCode >= 200 && res.statusCode < 300) {
          await res.body.dump();
          return { ok: true, status: res.statusCode };
        }
        if (res.statusCode >= 300 && res.statusCode < 400) {
          await res.body.dump();
          const location = res.headers.location;
          return { ok: false, status: res.statusCode, error: `redirect (${res.statusCode}) to ${location ?? 'no Location'} not followed: a webhook must answer 2xx itself` };
        }
        const preview = await readPreview(res.body);
        return { ok: false, status: res.statusCode, error: `HTTP ${res.statusCode}${preview ? `: ${preview}` : ''}` };
      } catch (err) {
        return { ok: false, error: errorText(err) };
      }
    },
    async stop() {},
  };
}

async function readPreview(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= ERROR_BODY_PREVIEW) break;
    }
  } catch {
    // The status says enough.
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, ERROR_BODY_PREVIEW).replace(/\s+/g, ' ').trim();
}

function lowerCased(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
