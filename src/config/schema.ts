/**
 * The one config schema. Unknown keys are errors (a typo must not silently do nothing), and every
 * default lives here. `asyncInferenceConfig` takes SageMaker's AsyncInferenceConfig as it is, so
 * users can paste what they already have.
 */
import { z } from 'zod';
import { PolicyDocumentSchema } from '../auth/policy.js';
import { parseAddressEntry, parseAllowEntry } from '../outbound/policy.js';
import { durationMs } from './duration.js';

const S3_PATH_RULE = 'must be an s3:// URI such as s3://bucket/prefix (the pattern is (https|s3)://([^/]+)/?(.*); this server writes outputs only to s3:// paths)';
const s3Path = z.string().max(512).regex(/^s3:\/\/[^/]+\/?.*$/, S3_PATH_RULE)
  .refine((uri) => !/^s3:\/\//.test(uri) || /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/|$)/.test(uri),
    'the bucket must be an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit');
const snsTopic = z.string().max(2048).regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]*:[0-9]{12}:[a-zA-Z0-9_.-]+$/,
  'must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:my-topic');
const endpointName = z.string().min(1).max(63).regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/,
  'must be 1-63 letters, digits and hyphens, starting and ending with a letter or digit');

export const AsyncInferenceConfigSchema = z.strictObject({
  ClientConfig: z.strictObject({
    MaxConcurrentInvocationsPerInstance: z.number().int().min(1).max(1000).optional(),
  }).optional(),
  OutputConfig: z.strictObject({
    KmsKeyId: z.string().max(2048).optional(),
    S3OutputPath: s3Path,
    S3FailurePath: s3Path.optional(),
    NotificationConfig: z.strictObject({
      SuccessTopic: snsTopic.optional(),
      ErrorTopic: snsTopic.optional(),
      IncludeInferenceResponseIn: z.array(z.enum(['SUCCESS_NOTIFICATION_TOPIC', 'ERROR_NOTIFICATION_TOPIC'])).max(2).optional(),
    }).optional(),
  }),
});

const ModelSchema = z.strictObject({
  /** Command (argv) that starts one instance; it gets its port in SAGEMAKER_BIND_TO_PORT and PORT. */
  command: z.array(z.string().min(1)).min(1).optional(),
  /** An already running container; it is the endpoint's single instance. */
  url: z.string().regex(/^https?:\/\/[^/]+/, 'must be an http:// or https:// URL').optional(),
  env: z.record(z.string(), z.string()).default({}),
  /** Like ContainerStartupHealthCheckTimeoutInSeconds: how long an instance may take to answer /ping. */
  startupTimeoutSeconds: z.number().int().min(1).max(3600).default(240),
  /** How often a ready instance is pinged; three failed pings in a row replace it. */
  healthCheckIntervalSeconds: z.number().min(0.1).max(300).default(5),
}).superRefine((model, ctx) => {
  if ((model.command === undefined) === (model.url === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give exactly one of "command" (start instances) or "url" (an already running container)' });
  }
});

const MAX_INSTANCES = 64;
/**
 * How many instances run. Without `max` the count stays at `initial` (UpdateEndpointWeightsAndCapacities
 * cannot change a config endpoint; edit the file). With `max` the autoscaler tracks the backlog per
 * instance (src/autoscale/scaling-policy.ts) between `min` and `max`; `min: 0` scales to zero.
 */
const InstancesSchema = z.strictObject({
  initial: z.number().int().min(0).max(MAX_INSTANCES).default(1),
  min: z.number().int().min(0).max(MAX_INSTANCES).optional(),
  max: z.number().int().min(0).max(MAX_INSTANCES).optional(),
  /** ApproximateBacklogSizePerInstance to hold (TargetValue of a SageMaker target-tracking policy). */
  targetBacklogPerInstance: z.number().positive().max(1_000_000).default(5),
  scaleOutCooldown: durationMs(0, 86_400_000).default(30_000),
  scaleInCooldown: durationMs(0, 86_400_000).default(300_000),
  /** With min 0: how long the backlog must stay at 0 (nothing in flight) before the last instance stops. */
  idleBeforeZero: durationMs(0, 86_400_000).default(300_000),
}).superRefine((i, ctx) => {
  if (i.max === undefined) {
    if (i.min !== undefined) ctx.addIssue({ code: 'custom', path: ['max'], message: 'autoscaling needs "max" as well as "min" (or remove "min" to keep "initial" instances)' });
    return;
  }
  const min = i.min ?? 1;
  if (min > i.max) ctx.addIssue({ code: 'custom', path: ['min'], message: `min (${min}) must not be above max (${i.max})` });
  if (i.initial < min || i.initial > i.max) {
    ctx.addIssue({ code: 'custom', path: ['initial'], message: `initial (${i.initial}) must be between min (${min}${i.min === undefined ? ', the default' : ''}) and max (${i.max}); set "min": 0 to allow scaling to zero` });
  }
});

const EndpointSchema = z.strictObject({
  name: endpointName,
  variantName: endpointName.default('AllTraffic'),
  model: ModelSchema,
  instances: InstancesSchema.prefault({}),
  /** Without it the endpoint is real-time: InvokeEndpoint, no queue. */
  asyncInferenceConfig: AsyncInferenceConfigSchema.optional(),
}).superRefine((ep, ctx) => {
  if (ep.model.url !== undefined && ep.instances.initial > 1) {
    ctx.addIssue({ code: 'custom', path: ['instances', 'initial'], message: 'an endpoint with model.url has exactly one instance (the URL); set instances.initial to 1 or use model.command' });
  }
  if (ep.instances.max !== undefined && ep.asyncInferenceConfig === undefined) {
    ctx.addIssue({ code: 'custom', path: ['instances', 'max'], message: 'autoscaling follows the queue backlog, so it needs an asynchronous endpoint (asyncInferenceConfig); a real-time endpoint keeps instances.initial' });
  }
  if (ep.model.url !== undefined && ep.instances.max !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['instances', 'max'], message: 'an endpoint with model.url is not scaled (its one instance is not started by asyncinfer); remove instances.min/max or use model.command' });
  }
});

/** How a container image named in CreateModel runs here: a command per instance, or a running URL. */
const ImageSchema = z.strictObject({
  command: z.array(z.string().min(1)).min(1).optional(),
  url: z.string().regex(/^https?:\/\/[^/]+/, 'must be an http:// or https:// URL').optional(),
  env: z.record(z.string(), z.string()).default({}),
  /**
   * Names CreateModel's Environment may set for this image although they load code (NODE_OPTIONS,
   * LD_PRELOAD, PYTHONPATH, ...: src/domain/refused-environment.ts); exact names.
   */
  allowedEnvironment: z.array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be an environment variable name')).default([]),
}).superRefine((image, ctx) => {
  if ((image.command === undefined) === (image.url === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give exactly one of "command" or "url"' });
  }
});

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region name such as us-east-1');
const httpUrl = z.string().regex(/^https?:\/\/[^/]+/, 'must be an http:// or https:// URL');
/** Static keys; without them the AWS SDK's default chain is used (environment, profile, instance role). */
const Credentials = z.strictObject({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1).optional(),
});

const StorageSchema = z.discriminatedUnion('type', [
  /** Objects are files in <dataDir>/s3; the embedded S3 API serves them. */
  z.strictObject({ type: z.literal('fs') }),
  /** AWS S3 or any S3-compatible server (MinIO, SeaweedFS, R2, ...). */
  z.strictObject({
    type: z.literal('s3'),
    endpoint: httpUrl.optional(),
    region: region.default('us-east-1'),
    /** Path-style addressing (http://host/bucket/key); most S3-compatible servers need it. */
    forcePathStyle: z.boolean().default(false),
    credentials: Credentials.optional(),
  }),
], { error: 'must be {"type": "fs"} or {"type": "s3", "region": ..., "endpoint"?: ..., "forcePathStyle"?: ..., "credentials"?: ...}' });

/** Standard Webhooks secrets: "whsec_" and the base64 of the key bytes. */
const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/]{16,}={0,2}$/;
const WebhookTarget = z.strictObject({
  webhook: httpUrl,
  secret: z.string().regex(WEBHOOK_SECRET, 'must be a Standard Webhooks secret: "whsec_" followed by base64 of at least 12 random bytes (e.g. "whsec_" + `openssl rand -base64 32`)').optional(),
  /** Extra headers sent with every delivery (an Authorization header, say). */
  headers: z.record(z.string(), z.string()).default({}),
});
const SnsTarget = z.strictObject({
  sns: z.strictObject({
    /** Defaults to the region in the topic ARN. */
    region: region.optional(),
    /** An SNS-compatible server instead of AWS (LocalStack, say). */
    endpoint: httpUrl.optional(),
    credentials: Credentials.optional(),
  }),
});
const NotificationTarget = z.union([WebhookTarget, SnsTarget], { error: 'must be {"webhook": "https://...", "secret"?: "whsec_..."} or {"sns": {"region"?: ..., "endpoint"?: ...}}' });

const QueueSchema = z.discriminatedUnion('type', [
  /** <dataDir>/queue.db: one process owns it (and the data dir). */
  z.strictObject({ type: z.literal('sqlite') }),
  /** Redis 7 (or Redis Cluster): gateways and workers on many hosts share it. */
  z.strictObject({
    type: z.literal('redis'),
    url: z.string().regex(/^rediss?:\/\/[^/]/, 'must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379'),
    /** `url` is one node of a Redis Cluster; the rest are discovered. */
    cluster: z.boolean().default(false),
    /** Key prefix and hash tag: several deployments can share one Redis. */
    prefix: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 letters, digits and _ . : -').default('asyncinfer'),
  }),
], { error: 'must be {"type": "sqlite"} or {"type": "redis", "url": "redis://host:6379"}' });

/**
 * An access key the server accepts. The secret is given once: inline, in a file (`secretAccessKeyFile`,
 * trailing newline ignored) or in an environment variable (`secretAccessKeyEnv`), so it need not sit
 * in the config file. Without `policy` the key may do everything.
 */
const AccessKeySchema = z.strictObject({
  accessKeyId: z.string().regex(/^[A-Za-z0-9_]{3,128}$/, 'must be 3-128 letters, digits and underscores (AWS access key ids look like AKIAIOSFODNN7EXAMPLE)'),
  secretAccessKey: z.string().optional(),
  secretAccessKeyFile: z.string().min(1).optional(),
  secretAccessKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
  policy: PolicyDocumentSchema.optional(),
  description: z.string().max(256).optional(),
}).superRefine((key, ctx) => {
  const given = [key.secretAccessKey, key.secretAccessKeyFile, key.secretAccessKeyEnv].filter((v) => v !== undefined).length;
  if (given !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of "secretAccessKey", "secretAccessKeyFile" or "secretAccessKeyEnv"' });
});

/** A secret SigV4 can use safely: long enough that guessing it is hopeless. */
export const SECRET_RULE = { min: 16, max: 128, message: 'a secret access key must be 16-128 characters (AWS\'s are 40; make one with `openssl rand -base64 30`)' } as const;

const AuthSchema = z.strictObject({
  /** sigv4: every request must be signed with one of the keys; off: nothing is checked (loopback binds only). */
  mode: z.enum(['sigv4', 'off']).default('sigv4'),
  keys: z.array(AccessKeySchema).default([]),
  /** GET /metrics: signed like every other call, or open (for a Prometheus scrape, which cannot sign). */
  metrics: z.enum(['signed', 'open']).default('signed'),
});

/** A name a client may put in the Host header: a DNS name or an IP literal, without port. */
const hostName = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$/, 'must be a host name or IP address without port, e.g. "asyncinfer.internal" or "10.0.0.5"');
const origin = z.string().regex(/^https?:\/\/[^/]+$/, 'must be an origin: scheme://host[:port], e.g. "https://app.example.com", with no path');

const allowEntry = z.string().min(1).max(2048).superRefine((entry, ctx) => {
  try {
    parseAllowEntry(entry);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `${(err as Error).message}: e.g. "https://models.example.com/artifacts/", "minio.internal:9000" or "10.1.2.3"` });
  }
});
const addressEntry = z.string().min(1).max(64).superRefine((entry, ctx) => {
  try {
    parseAddressEntry(entry);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

/**
 * The outbound policy (src/outbound/policy.ts, docs/security.md): which URLs a caller may make the
 * server fetch or call (an https:// InputLocation, a ModelDataUrl, an Image given as a URL).
 * Nothing is allowed unless listed.
 */
const OutboundSchema = z.strictObject({
  /** URL prefixes ("https://models.example.com/artifacts/") or hosts ("minio.internal:9000", "10.1.2.3", "[fd00::5]:8080"). */
  allow: z.array(allowEntry).default([]),
  /**
   * Loopback, link-local, private and other special-purpose addresses (CIDR or single address) a
   * listed host may resolve to. An IP entry of `allow` is listed already.
   */
  addresses: z.array(addressEntry).default([]),
  /** Topics not listed under `topics` publish to AWS SNS with the server's credentials: only when true. */
  awsSns: z.boolean().default(false),
  connectTimeout: durationMs(100, 300_000).default(10_000),
  /** From the request sent to the answer's headers. */
  headersTimeout: durationMs(100, 3_600_000).default(30_000),
  /** The longest pause in a body being read. */
  idleTimeout: durationMs(100, 3_600_000).default(30_000),
  /** Bytes of an https:// InputLocation (SageMaker's limit for asynchronous inputs is 1 GB). */
  maxInputBytes: z.number().int().min(1).max(2 ** 50).default(1024 ** 3),
  /** Bytes of a ModelDataUrl archive, compressed and unpacked. */
  maxModelDataBytes: z.number().int().min(1).max(2 ** 50).default(10 * 1024 ** 3),
}).prefault({});

/** What this process does: see docs/deploy.md. */
export const Roles = ['all', 'gateway', 'worker'] as const;

export const ConfigSchema = z.strictObject({
  /** all: everything in one process; gateway: the HTTP APIs only; worker: model instances and dispatch only. */
  role: z.enum(Roles).default('all'),
  /** Where invocations (and notifications, and API-created resources) are kept. */
  queue: QueueSchema.default({ type: 'sqlite' }),
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  dataDir: z.string().min(1).default('./.asyncinfer'),
  region: region.default('us-east-1'),
  accountId: z.string().regex(/^\d{12}$/, 'must be 12 digits').default('123456789012'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** On SIGTERM, how long running invocations may take to finish before they go back to the queue. */
  shutdownGraceSeconds: z.number().min(0).max(3600).default(30),
  endpoints: z.array(EndpointSchema).default([]),
  /** Images that CreateModel's PrimaryContainer.Image may name, e.g. "iris:1". */
  images: z.record(z.string().min(1), ImageSchema).default({}),
  /** Where objects live. */
  storage: StorageSchema.default({ type: 'fs' }),
  /** The S3 API of the embedded store (storage.type "fs" only), on its own port. */
  s3Api: z.strictObject({
    enabled: z.boolean().default(true),
    port: z.number().int().min(0).max(65535).default(9000),
  }).default({ enabled: true, port: 9000 }),
  /**
   * Where the SNS topics of NotificationConfig deliver. A topic that is not listed publishes to
   * AWS SNS itself, in the ARN's region, as SageMaker would, only with `outbound.awsSns: true`;
   * otherwise it is refused (CreateEndpointConfig, and config endpoints at load).
   */
  topics: z.record(snsTopic, z.array(NotificationTarget).min(1)).default({}),
  /** Which URLs callers may make the server reach, and whether unlisted topics go to AWS SNS. */
  outbound: OutboundSchema,
  /** Who may call: SigV4 keys and their policies (docs/security.md). */
  auth: AuthSchema.prefault({}),
  /**
   * Names the Host header may carry besides the bind address, localhost, 127.0.0.1 and [::1]
   * (a request naming any other host is refused: DNS rebinding).
   */
  allowedHosts: z.array(hostName).default([]),
  /** Web pages from these origins may call the APIs (CORS); a request from any other origin is refused. */
  cors: z.strictObject({ allowedOrigins: z.array(origin).default([]) }).prefault({}),
  /** HTTPS on the API and S3 API ports: PEM files, read again on SIGHUP. */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  /** A request to the HTTP API (headers and body) must arrive within this; a slower client gets a 408 and is cut off. */
  requestTimeout: durationMs(1000, 3_600_000).default(60_000),
  /**
   * A worker's lease on a running invocation, renewed every third of it while the invocation runs.
   * A worker that dies (kill -9, power) has its invocations back in the queue after at most this.
   */
  leaseDuration: durationMs(1000, 3_600_000).default(30_000),
  /** How often the autoscaler looks at every scaled endpoint (it also acts at once on the first request to an endpoint at zero). */
  autoscaling: z.strictObject({
    interval: durationMs(50, 60_000).default(1000),
  }).default({ interval: 1000 }),
  /**
   * How far callers may scale through the API (CreateEndpointConfig's InitialInstanceCount,
   * UpdateEndpointWeightsAndCapacities' DesiredInstanceCount). Per server counts every API-created
   * endpoint's desired count plus each config endpoint's instances.max (or initial).
   */
  limits: z.strictObject({
    instancesPerEndpoint: z.number().int().min(1).max(10_000).default(64),
    instancesPerServer: z.number().int().min(1).max(100_000).default(256),
  }).prefault({}),
  /** How notifications are retried: exponential backoff with full jitter, then kept for replay. */
  notifications: z.strictObject({
    maxAttempts: z.number().int().min(1).max(100).default(10),
    initialBackoff: durationMs(10, 3_600_000).default(1000),
    maxBackoff: durationMs(10, 86_400_000).default(300_000),
    /** One delivery attempt (connect, send, answer) may take this long. */
    timeout: durationMs(100, 300_000).default(10_000),
  }).default({ maxAttempts: 10, initialBackoff: 1000, maxBackoff: 300_000, timeout: 10_000 }),
}).superRefine((config, ctx) => {
  if (config.auth.mode === 'off' && !isLoopback(config.host)) {
    ctx.addIssue({ code: 'custom', path: ['auth', 'mode'], message: `"off" serves every request unauthenticated, so it is only allowed on a loopback address (127.0.0.1, ::1, localhost), not on "${config.host}". Keep auth on (the default) and give clients a key, or bind to 127.0.0.1` });
  }
  const ids = new Set<string>();
  config.auth.keys.forEach((key, i) => {
    if (ids.has(key.accessKeyId)) ctx.addIssue({ code: 'custom', path: ['auth', 'keys', i, 'accessKeyId'], message: `duplicate access key id "${key.accessKeyId}"` });
    ids.add(key.accessKeyId);
  });
  if (config.role !== 'all' && config.queue.type !== 'redis') {
    ctx.addIssue({ code: 'custom', path: ['role'], message: `role "${config.role}" needs a queue that several processes share: set queue to {"type": "redis", "url": "redis://..."} (the SQLite queue belongs to one process)` });
  }
  const seen = new Set<string>();
  config.endpoints.forEach((ep, i) => {
    if (seen.has(ep.name)) ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'name'], message: `duplicate endpoint name "${ep.name}"` });
    seen.add(ep.name);
    const notification = ep.asyncInferenceConfig?.OutputConfig.NotificationConfig;
    for (const key of ['SuccessTopic', 'ErrorTopic'] as const) {
      const topic = notification?.[key];
      if (topic === undefined || config.outbound.awsSns || Object.hasOwn(config.topics, topic)) continue;
      ctx.addIssue({
        code: 'custom', path: ['endpoints', i, 'asyncInferenceConfig', 'OutputConfig', 'NotificationConfig', key],
        message: `topic ${topic} is not listed under "topics"; list it there with its targets, or set "outbound": {"awsSns": true} to publish to AWS SNS with the server's credentials`,
      });
    }
  });
});

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;
export type EndpointConfig = Config['endpoints'][number];
export type ModelConfig = EndpointConfig['model'];
export type AsyncInferenceConfig = z.output<typeof AsyncInferenceConfigSchema>;
export type ImageConfig = z.output<typeof ImageSchema>;
export type StorageConfig = Config['storage'];
export type NotificationTargetConfig = z.output<typeof NotificationTarget>;

/** 127.0.0.0/8, ::1 and localhost: addresses no other host can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}
