import { describe, expect, it } from 'vitest';
import {
  inferenceResultDraft, inferenceResultEventId, NOTIFICATION_RESPONSE_MAX_BYTES, TEST_NOTIFICATION_MESSAGE, testNotificationDrafts,
  type InferenceResultInput,
} from './inference-result-event.js';
import type { NotificationSettings } from './notification.js';

const OK = 'arn:aws:sns:us-east-1:123456789012:ok';
const ERR = 'arn:aws:sns:us-east-1:123456789012:err';
const RECEIVED = Date.parse('2025-08-03T12:40:58.414Z');
const DONE = Date.parse('2025-08-03T12:41:00.586Z');
const MESSAGE = 'Check S3 path location(if configured) or Cloudwatch for additional details.';

const inv = {
  id: '0190e6a4-7f3c-7abc-8def-0123456789ab', inferenceId: 'ccdad826-c203-40bf-b791-2531a81db556', endpointName: 'my-async-ep',
  outputLocation: 's3://b/out/x.out', failureLocation: 's3://b/fail/x-error.out', receivedAtMs: RECEIVED,
};
const both: NotificationSettings = { successTopic: OK, errorTopic: ERR, includeInferenceResponseIn: ['SUCCESS_NOTIFICATION_TOPIC', 'ERROR_NOTIFICATION_TOPIC'] };

function input(overrides: Partial<InferenceResultInput> = {}): InferenceResultInput {
  return { region: 'us-west-2', variantName: 'AllTraffic', invocation: inv, outcome: { state: 'completed' }, eventTimeMs: DONE, notification: both, ...overrides };
}

const base = { awsRegion: 'us-west-2', eventTime: '2025-08-03T12:41:00.586Z', receivedTime: '2025-08-03T12:40:58.414Z' };
const tail = { inferenceId: inv.inferenceId, eventVersion: '1.0', eventSource: 'aws:sagemaker', eventName: 'InferenceResult' };
const reason500 = 'ClientError: Received server error (500) from model. See s3://b/fail/x-error.out for the full response.';

describe('inferenceResultDraft', () => {
  it.each<[string, Partial<InferenceResultInput>, string | undefined, Record<string, unknown> | undefined]>([
    ['success with the response inlined (spec §4.3)', {
      invocation: { ...inv, accept: 'application/json', contentType: 'application/octet-stream', inputLocation: 's3://b/in/sample.wav' },
      response: { contentType: 'application/json', body: Buffer.from('{"text":"hi"}') },
    }, OK, {
      ...base, invocationStatus: 'Completed',
      requestParameters: { accept: 'application/json', contentType: 'application/octet-stream', endpointName: 'my-async-ep', inputLocation: 's3://b/in/sample.wav' },
      responseParameters: { contentType: 'application/json', outputLocation: 's3://b/out/x.out' },
      responseBody: { content: 'eyJ0ZXh0IjoiaGkifQ==', message: MESSAGE, encoding: 'BASE64' },
      ...tail,
    }],
    ['inline Body: no inputLocation, only supplied keys', {
      invocation: { ...inv, contentType: 'text/csv' }, response: { contentType: 'text/csv' },
    }, OK, {
      ...base, invocationStatus: 'Completed',
      requestParameters: { contentType: 'text/csv', endpointName: 'my-async-ep' },
      responseParameters: { contentType: 'text/csv', outputLocation: 's3://b/out/x.out' },
      ...tail,
    }],
    ['success without IncludeInferenceResponseIn for its topic: no responseBody', {
      notification: { ...both, includeInferenceResponseIn: ['ERROR_NOTIFICATION_TOPIC'] }, response: { contentType: 'a/b', body: Buffer.from('x') },
    }, OK, {
      ...base, invocationStatus: 'Completed', requestParameters: { endpointName: 'my-async-ep' },
      responseParameters: { contentType: 'a/b', outputLocation: 's3://b/out/x.out' }, ...tail,
    }],
    ['model failure: failureLocation in responseParameters and at top level, error body inlined', {
      outcome: { state: 'failed', modelStatus: 500, failureReason: reason500 },
      response: { contentType: 'application/json', body: Buffer.from('{"error":1}') },
    }, ERR, {
      ...base, invocationStatus: 'Failed', failureReason: reason500, failureLocation: 's3://b/fail/x-error.out',
      requestParameters: { endpointName: 'my-async-ep' },
      responseParameters: { contentType: 'application/json', failureLocation: 's3://b/fail/x-error.out' },
      responseBody: { content: Buffer.from('{"error":1}').toString('base64'), message: MESSAGE, encoding: 'BASE64' },
      ...tail,
    }],
    ['expiry: Failed on the ErrorTopic, no model response', {
      outcome: { state: 'expired', failureReason: 'Request expired' },
    }, ERR, {
      ...base, invocationStatus: 'Failed', failureReason: 'Request expired', failureLocation: 's3://b/fail/x-error.out',
      requestParameters: { endpointName: 'my-async-ep' }, responseParameters: { failureLocation: 's3://b/fail/x-error.out' }, ...tail,
    }],
    ['failure without S3FailurePath: no failureLocation, no empty responseParameters', {
      invocation: { ...inv, failureLocation: undefined }, outcome: { state: 'failed', failureReason: 'boom' },
    }, ERR, {
      ...base, invocationStatus: 'Failed', failureReason: 'boom', requestParameters: { endpointName: 'my-async-ep' }, ...tail,
    }],
    ['response over 128 KB: no responseBody', {
      response: { contentType: 'a/b', body: Buffer.alloc(NOTIFICATION_RESPONSE_MAX_BYTES + 1) },
    }, OK, {
      ...base, invocationStatus: 'Completed', requestParameters: { endpointName: 'my-async-ep' },
      responseParameters: { contentType: 'a/b', outputLocation: 's3://b/out/x.out' }, ...tail,
    }],
    ['no SuccessTopic: no event for a success', { notification: { errorTopic: ERR, includeInferenceResponseIn: [] } }, undefined, undefined],
    ['no ErrorTopic: no event for a failure', { notification: { successTopic: OK, includeInferenceResponseIn: [] }, outcome: { state: 'failed' } }, undefined, undefined],
    ['no NotificationConfig: no event', { notification: undefined }, undefined, undefined],
  ])('%s', (_name, overrides, topic, event) => {
    const draft = inferenceResultDraft(input(overrides));
    if (topic === undefined) {
      expect(draft).toBeUndefined();
      return;
    }
    expect(draft).toMatchObject({ eventId: inferenceResultEventId(inv.id), topicArn: topic, endpointName: 'my-async-ep', variantName: 'AllTraffic' });
    // The exact JSON, key order included.
    expect(draft!.message).toBe(JSON.stringify(event));
  });

  it('gives one outcome one event id, whatever else differs', () => {
    const a = inferenceResultDraft(input({ eventTimeMs: 1 }));
    const b = inferenceResultDraft(input({ eventTimeMs: 2 }));
    expect(a!.eventId).toBe(b!.eventId);
    expect(inferenceResultEventId('other')).not.toBe(a!.eventId);
  });
});

describe('testNotificationDrafts', () => {
  let n = 0;
  const newId = () => `id-${++n}`;
  it.each<[string, NotificationSettings | undefined, string[]]>([
    ['both topics', both, [OK, ERR]],
    ['the same topic twice: one notification', { successTopic: OK, errorTopic: OK, includeInferenceResponseIn: [] }, [OK]],
    ['one topic', { errorTopic: ERR, includeInferenceResponseIn: [] }, [ERR]],
    ['no NotificationConfig', undefined, []],
  ])('%s', (_name, notification, topics) => {
    const drafts = testNotificationDrafts({ endpointName: 'ep', variantName: 'v', notification, newId });
    expect(drafts.map((d) => d.topicArn)).toEqual(topics);
    for (const d of drafts) expect(d).toMatchObject({ endpointName: 'ep', variantName: 'v', message: TEST_NOTIFICATION_MESSAGE });
    expect(new Set(drafts.map((d) => d.eventId)).size).toBe(drafts.length);
  });

  it('is exactly the documented JSON', () => {
    expect(JSON.parse(TEST_NOTIFICATION_MESSAGE)).toEqual({ eventVersion: '1.0', eventSource: 'aws:sagemaker', eventName: 'TestNotification' });
  });
});
