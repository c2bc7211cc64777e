import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { expect, it } from 'vitest';
import { webhookHeaders } from './standard-webhooks.js';

it('signs so that the reference Standard Webhooks library verifies it', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const body = '{"eventName":"InferenceResult","x":"ü"}';
  const headers = webhookHeaders({ id: 'result-1', body, secret, nowMs: Date.now() });
  expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
});

it('sends id and timestamp, and no signature without a secret', () => {
  expect(webhookHeaders({ id: 'x', body: '{}', nowMs: 1_700_000_000_999 })).toEqual({ 'webhook-id': 'x', 'webhook-timestamp': '1700000000' });
});
