/**
 * SNS delivery: `Publish` with the event JSON as the Message and no Subject, as SageMaker sends
 * it. FIFO topics get MessageGroupId = the endpoint name and MessageDeduplicationId = the event
 * id, so SNS itself drops a re-delivery within its 5-minute window. The SDK is imported on the
 * first publish, so a server that never publishes to SNS never loads it.
 */
import type { PublishCommand as PublishCommandType, SNSClient as SNSClientType } from '@aws-sdk/client-sns';
import { errorText, type Deliverer } from './deliverer.js';
import { topicRegion, type SnsTarget } from './targets.js';

type SnsModule = typeof import('@aws-sdk/client-sns');

export function createSnsDeliverer(options: { defaultRegion: string }): Deliverer<SnsTarget> {
  let sdk: Promise<SnsModule> | undefined;
  const clients = new Map<string, SNSClientType>();

  async function clientFor(sns: SnsModule, target: SnsTarget, topicArn: string): Promise<SNSClientType> {
    const region = target.sns.region ?? topicRegion(topicArn) ?? options.defaultRegion;
    const key = [region, target.sns.endpoint ?? '', target.sns.credentials?.accessKeyId ?? ''].join('|');
    let client = clients.get(key);
    if (!client) {
      client = new sns.SNSClient({
        region,
        ...(target.sns.endpoint !== undefined && { endpoint: target.sns.endpoint }),
        // A copy: the config is frozen, and the SDK marks the credentials object it is given.
        ...(target.sns.credentials !== undefined && { credentials: { ...target.sns.credentials } }),
        // Our delivery loop retries with backoff and records every attempt; the SDK's own would hide them.
        maxAttempts: 1,
      });
      clients.set(key, client);
    }
    return client;
  }

  return {
    async deliver(target, event, signal) {
      try {
        sdk ??= import('@aws-sdk/client-sns');
        const sns = await sdk;
        const client = await clientFor(sns, target, event.topicArn);
        const fifo = event.topicArn.endsWith('.fifo');
        const command: PublishCommandType = new sns.PublishCommand({
          TopicArn: event.topicArn, Message: event.message,
          ...(fifo && { MessageGroupId: event.endpointName, MessageDeduplicationId: event.id }),
        });
        const out = await client.send(command, { abortSignal: signal });
        return { ok: true, status: out.$metadata.httpStatusCode ?? 200 };
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        return { ok: false, ...(status !== undefined && { status }), error: errorText(err) };
      }
    },
    async stop() {
      for (const client of clients.values()) client.destroy();
      clients.clear();
    },
  };
}
