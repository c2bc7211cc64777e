/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): receivers verify with any of its
 * libraries. The signature is HMAC-SHA256 over "{id}.{timestamp}.{body}", keyed with the bytes of
 * the secret after "whsec_", and sent as "v1,<base64>".
 */
import { createHmac } from 'node:crypto';

const PREFIX = 'whsec_';

export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

export function webhookHeaders(options: { id: string; body: string; secret?: string; nowMs: number }): Record<string, string> {
  const timestamp = Math.floor(options.nowMs / 1000);
  return {
    'webhook-id': options.id,
    'webhook-timestamp': String(timestamp),
    ...(options.secret !== undefined && { 'webhook-signature': signWebhook(options.secret, options.id, timestamp, options.body) }),
  };
}
