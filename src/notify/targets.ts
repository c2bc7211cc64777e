/**
 * Where a topic's notifications go. The config's `topics` maps a topic ARN to its targets; a topic
 * that is not listed publishes to AWS SNS itself, in the ARN's region, as SageMaker would.
 */
export interface WebhookTarget {
  webhook: string;
  /** Standard Webhooks secret, "whsec_" + base64 key; without it requests are not signed. */
  secret?: string;
  headers: Readonly<Record<string, string>>;
}

export interface SnsTarget {
  sns: {
    region?: string;
    endpoint?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  };
}

export type NotificationTarget = WebhookTarget | SnsTarget;

const AWS_SNS: readonly NotificationTarget[] = Object.freeze([{ sns: {} }]);

export function targetsOf(topics: Readonly<Record<string, readonly NotificationTarget[]>>, topicArn: string): readonly NotificationTarget[] {
  return topics[topicArn] ?? AWS_SNS;
}

export function isWebhook(target: NotificationTarget): target is WebhookTarget {
  return 'webhook' in target;
}

/**
 * A target's name in the outbox's per-target progress and attempt history. Made of what decides
 * where the event goes (not of secrets), so it survives a restart and a reordered config.
 */
export function targetKey(target: NotificationTarget): string {
  if (isWebhook(target)) return `webhook ${target.webhook}`;
  const { region, endpoint } = target.sns;
  return `sns${region !== undefined ? ` ${region}` : ''}${endpoint !== undefined ? ` ${endpoint}` : ''}`.trimEnd();
}

/** The region in `arn:aws:sns:REGION:ACCOUNT:NAME`, when it has one. */
export function topicRegion(topicArn: string): string | undefined {
  const region = topicArn.split(':')[3];
  return region === undefined || region === '' ? undefined : region;
}
