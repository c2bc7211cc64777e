/** What every control-plane operation gets: the catalog, names for ARNs, and the live endpoints. */
import { sagemakerArn } from '../../auth/index.js';
import type { Catalog } from '../../catalog/index.js';
import type { EndpointNotifications, NotificationSettings } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import type { NotificationOutbox } from '../../notify/index.js';
import type { OutboundPolicy } from '../../outbound/index.js';

export interface ConfiguredEndpoint {
  name: string;
  variantName: string;
  /** The AsyncInferenceConfig as configured; absent for a real-time endpoint. */
  asyncInferenceConfig?: object;
  createdAtMs: number;
  /** What it counts toward limits.instancesPerServer: instances.max, else instances.initial; else its desired count. */
  reservedInstances?: number;
  instances(): Promise<{ current: number; desired: number }>;
}

/** An endpoint to run, as CreateEndpoint resolves it from its config and model. */
export interface EndpointDeployment {
  name: string;
  /** The EndpointConfigName it runs. */
  configName: string;
  variantName: string;
  image: string;
  environment: Record<string, string>;
  modelDataUrl?: string;
  /** ModelDataDownloadTimeoutInSeconds of the variant, when given. */
  modelDataDownloadTimeoutSeconds?: number;
  instanceCount: number;
  /** Absent for a real-time endpoint. */
  async?: { maxConcurrencyPerInstance: number; s3OutputPath: string; s3FailurePath?: string; notification?: NotificationSettings };
  startupTimeoutSeconds: number;
}

/** The control plane's narrow view of the running endpoints. */
export interface EndpointDeployer {
  /** Starts the instances; rejects with the FailureReason when the image cannot run here. */
  deploy(deployment: EndpointDeployment): Promise<void>;
  /** Rolling replacement; false (old instances still serving) when the new ones are not ready in time. */
  redeploy(deployment: EndpointDeployment): Promise<boolean>;
  undeploy(name: string): Promise<void>;
  /**
   * Undeploys for good: what is still queued for the endpoint fails with `failureReason`, and is
   * notified with `notifications` (given, since the endpoint is no longer deployed then).
   */
  retire(name: string, failureReason: string, notifications?: EndpointNotifications): Promise<void>;
  readyInstances(name: string): Promise<number>;
  /**
   * Sets the endpoint's desired count and holds it there (autoscaling suspended): instances start,
   * or drain and stop. Does not wait for them.
   */
  pin(name: string, count: number): void;
  /** Resolves true once `count` instances answer /ping, false at the deadline. */
  waitUntilReady(name: string, count: number, timeoutMs: number): Promise<boolean>;
}

export interface ControlPlaneContext {
  catalog: Catalog;
  region: string;
  accountId: string;
  /** Endpoints from the config file: read-only through the API. */
  configuredEndpoints: readonly ConfiguredEndpoint[];
  deployer: EndpointDeployer;
  /** Where TestNotifications go (CreateEndpoint, UpdateEndpoint, UpdateEndpointWeightsAndCapacities). */
  notifications?: Pick<NotificationOutbox, 'add'>;
  /** The config's `images`: what each Image lets CreateModel's Environment set. None: nothing refused is allowed. */
  images?: Readonly<Record<string, { allowedEnvironment?: readonly string[] }>>;
  /** The config's `limits`; DEFAULT_LIMITS when absent. */
  limits?: InstanceLimits;
  /** The outbound policy an Image given as a URL must pass; none: every Image URL is refused. */
  outbound?: OutboundPolicy;
  /** Topics listed under the config's `topics`, and whether others may go to AWS SNS (`outbound.awsSns`); none listed and false when absent. */
  topics?: { listed: (topicArn: string) => boolean; awsSns: boolean };
}

export interface InstanceLimits {
  instancesPerEndpoint: number;
  instancesPerServer: number;
}

/** The config schema's defaults (src/config/schema.ts), for a context built without them. */
export const DEFAULT_LIMITS: InstanceLimits = { instancesPerEndpoint: 64, instancesPerServer: 256 };

export type ArnKind = 'model' | 'endpoint-config' | 'endpoint';

/** SageMaker lower-cases the name inside an ARN (and keeps its case everywhere else). */
export function arn(ctx: ControlPlaneContext, kind: ArnKind, name: string): string {
  return sagemakerArn({ region: ctx.region, accountId: ctx.accountId, type: kind, name });
}

const NOUN: Record<ArnKind, string> = { model: 'model', 'endpoint-config': 'endpoint configuration', endpoint: 'endpoint' };

/** The messages the SDK waiters and tools match on (spec §3.5). */
export function notFound(ctx: ControlPlaneContext, kind: ArnKind, name: string): AppError {
  return new AppError('ValidationException', `Could not find ${NOUN[kind]} "${arn(ctx, kind, name)}".`);
}

export function alreadyExists(ctx: ControlPlaneContext, kind: ArnKind, name: string): AppError {
  return new AppError('ValidationException', `Cannot create already existing ${NOUN[kind]} "${arn(ctx, kind, name)}".`);
}

export const epochSeconds = (ms: number) => ms / 1000;
