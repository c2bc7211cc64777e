/** CreateEndpointConfig, DescribeEndpointConfig, DeleteEndpointConfig, ListEndpointConfigs. */
import { constraints } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import { alreadyExists, arn, notFound, type ControlPlaneContext } from './context.js';
import { storedResourceOps } from './stored-resource-ops.js';

interface ProductionVariant {
  VariantName?: string;
  ModelName?: string;
  InitialInstanceCount?: number;
  InitialVariantWeight?: number;
  ContainerStartupHealthCheckTimeoutInSeconds?: number;
  ModelDataDownloadTimeoutInSeconds?: number;
  VolumeSizeInGB?: number;
  ServerlessConfig?: unknown;
  [key: string]: unknown;
}

interface AsyncInferenceConfig {
  ClientConfig?: { MaxConcurrentInvocationsPerInstance?: number };
  OutputConfig?: {
    S3OutputPath?: string;
    S3FailurePath?: string;
    KmsKeyId?: string;
    NotificationConfig?: { SuccessTopic?: string; ErrorTopic?: string; IncludeInferenceResponseIn?: string[] };
  };
}

interface CreateEndpointConfigInput {
  EndpointConfigName: string;
  ProductionVariants: ProductionVariant[];
  AsyncInferenceConfig?: AsyncInferenceConfig;
  [key: string]: unknown;
}

/** Already of its shape, instance counts within limits (routes.ts checks every input first); what is left are the rules across members. */
export async function createEndpointConfig(ctx: ControlPlaneContext, input: CreateEndpointConfigInput): Promise<object> {
  const variants = input.ProductionVariants;
  const c = constraints();
  variants.forEach((v, i) => {
    if (v.ServerlessConfig === undefined) c.required(`productionVariants.${i + 1}.member.initialInstanceCount`, v.InitialInstanceCount);
  });
  const notification = input.AsyncInferenceConfig?.OutputConfig?.NotificationConfig;
  for (const key of ['SuccessTopic', 'ErrorTopic'] as const) {
    const topic = notification?.[key];
    if (topic === undefined || ctx.topics?.awsSns || ctx.topics?.listed(topic)) continue;
    c.add(`Value at 'asyncInferenceConfig.outputConfig.notificationConfig.${key.charAt(0).toLowerCase()}${key.slice(1)}' failed to satisfy constraint: ` +
      `topic ${topic} is not allowed by the outbound policy: this server publishes only to topics its config lists under "topics" (or to AWS SNS when "outbound.awsSns" is true)`);
  }
  const problems = c.message();
  if (problems) throw new AppError('ValidationException', problems);
  const names = variants.map((v) => v.VariantName!);
  if (new Set(names).size !== names.length) throw new AppError('ValidationException', 'VariantName must be unique within ProductionVariants.');
  if (input.AsyncInferenceConfig && variants.some((v) => v.ServerlessConfig !== undefined)) {
    throw new AppError('ValidationException', 'One or more endpoint features are not supported using this configuration: AsyncInferenceConfig cannot be combined with a ServerlessConfig variant.');
  }
  for (const v of variants) {
    if (!(await ctx.catalog.get('model', v.ModelName!))) throw notFound(ctx, 'model', v.ModelName!);
  }
  const name = input.EndpointConfigName;
  const configArn = arn(ctx, 'endpoint-config', name);
  const doc = { ...input, ProductionVariants: variants.map((v) => ({ InitialVariantWeight: 1, ...v })), EndpointConfigArn: configArn };
  if (!(await ctx.catalog.create('endpoint-config', name, doc))) throw alreadyExists(ctx, 'endpoint-config', name);
  return { EndpointConfigArn: configArn };
}

const ops = storedResourceOps('endpoint-config', 'EndpointConfig');
export const { describe: describeEndpointConfig, delete: deleteEndpointConfig, list: listEndpointConfigs } = ops;
