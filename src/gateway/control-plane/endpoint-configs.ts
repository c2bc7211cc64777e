/** CreateEndpointConfig, DescribeEndpointConfig, DeleteEndpointConfig, ListEndpointConfigs. */
import { constraints, type Constraints } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import { alreadyExists, arn, notFound, type ControlPlaneContext } from './context.js';
import { storedResourceOps } from './stored-resource-ops.js';

const RESOURCE_NAME = { min: 1, max: 63, pattern: /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/, patternText: '^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}' };
const S3_PATH = { max: 512, pattern: /^(https|s3):\/\/([^/])\/?(.*)$/, patternText: '^(https|s3)://([^/])/?(.*)$' };
const SNS_TOPIC = { max: 2048, pattern: /^arn:aws[a-z-]*:sns:[a-z0-9-]*:[0-9]{12}:[a-zA-Z0-9_.-]+$/, patternText: 'arn:aws[a-z\\-]*:sns:[a-z0-9\\-]*:[0-9]{12}:[a-zA-Z0-9_.-]+' };

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
  EndpointConfigName?: string;
  ProductionVariants?: ProductionVariant[];
  AsyncInferenceConfig?: AsyncInferenceConfig;
  [key: string]: unknown;
}

export async function createEndpointConfig(ctx: ControlPlaneContext, input: CreateEndpointConfigInput): Promise<object> {
  const c = constraints();
  if (c.required('endpointConfigName', input.EndpointConfigName)) c.string('endpointConfigName', input.EndpointConfigName, RESOURCE_NAME);
  if (c.required('productionVariants', input.ProductionVariants)) c.length('productionVariants', input.ProductionVariants, 1, 10);
  (Array.isArray(input.ProductionVariants) ? input.ProductionVariants : []).forEach((v, i) => validateVariant(c, `productionVariants.${i + 1}.member`, v));
  if (input.AsyncInferenceConfig !== undefined) validateAsyncConfig(c, input.AsyncInferenceConfig);
  const problems = c.message();
  if (problems) throw new AppError('ValidationException', problems);

  const variants = input.ProductionVariants!;
  const names = variants.map((v) => v.VariantName!);
  if (new Set(names).size !== names.length) throw new AppError('ValidationException', 'VariantName must be unique within ProductionVariants.');
  if (input.AsyncInferenceConfig && variants.some((v) => v.ServerlessConfig !== undefined)) {
    throw new AppError('ValidationException', 'One or more endpoint features are not supported using this configuration: AsyncInferenceConfig cannot be combined with a ServerlessConfig variant.');
  }
  for (const v of variants) {
    if (!(await ctx.catalog.get('model', v.ModelName!))) throw notFound(ctx, 'model', v.ModelName!);
  }
  const name = input.EndpointConfigName!;
  const configArn = arn(ctx, 'endpoint-config', name);
  const doc = { ...input, ProductionVariants: variants.map((v) => ({ InitialVariantWeight: 1, ...v })), EndpointConfigArn: configArn };
  if (!(await ctx.catalog.create('endpoint-config', name, doc))) throw alreadyExists(ctx, 'endpoint-config', name);
  return { EndpointConfigArn: configArn };
}

function validateVariant(c: Constraints, member: string, v: ProductionVariant): void {
  if (c.required(`${member}.variantName`, v.VariantName)) c.string(`${member}.variantName`, v.VariantName, RESOURCE_NAME);
  if (c.required(`${member}.modelName`, v.ModelName)) c.string(`${member}.modelName`, v.ModelName, { max: 63 });
  if (v.ServerlessConfig === undefined) c.required(`${member}.initialInstanceCount`, v.InitialInstanceCount);
  c.number(`${member}.initialInstanceCount`, v.InitialInstanceCount, 1, Number.MAX_SAFE_INTEGER);
  c.number(`${member}.initialVariantWeight`, v.InitialVariantWeight, 0, Number.MAX_SAFE_INTEGER, { integer: false });
  c.number(`${member}.containerStartupHealthCheckTimeoutInSeconds`, v.ContainerStartupHealthCheckTimeoutInSeconds, 60, 3600);
  c.number(`${member}.modelDataDownloadTimeoutInSeconds`, v.ModelDataDownloadTimeoutInSeconds, 60, 3600);
  c.number(`${member}.volumeSizeInGB`, v.VolumeSizeInGB, 1, 512);
}

function validateAsyncConfig(c: Constraints, config: AsyncInferenceConfig): void {
  c.number('asyncInferenceConfig.clientConfig.maxConcurrentInvocationsPerInstance', config.ClientConfig?.MaxConcurrentInvocationsPerInstance, 1, 1000);
  if (!c.required('asyncInferenceConfig.outputConfig', config.OutputConfig)) return;
  const out = config.OutputConfig!;
  c.string('asyncInferenceConfig.outputConfig.s3OutputPath', out.S3OutputPath, S3_PATH);
  c.string('asyncInferenceConfig.outputConfig.s3FailurePath', out.S3FailurePath, S3_PATH);
  c.string('asyncInferenceConfig.outputConfig.kmsKeyId', out.KmsKeyId, { max: 2048, pattern: /^[a-zA-Z0-9:/_-]*$/, patternText: '[a-zA-Z0-9:/_-]*' });
  const n = out.NotificationConfig;
  if (n) {
    c.string('asyncInferenceConfig.outputConfig.notificationConfig.successTopic', n.SuccessTopic, SNS_TOPIC);
    c.string('asyncInferenceConfig.outputConfig.notificationConfig.errorTopic', n.ErrorTopic, SNS_TOPIC);
    c.length('asyncInferenceConfig.outputConfig.notificationConfig.includeInferenceResponseIn', n.IncludeInferenceResponseIn, 0, 2);
    n.IncludeInferenceResponseIn?.forEach((x) => c.oneOf('asyncInferenceConfig.outputConfig.notificationConfig.includeInferenceResponseIn.member', x, ['SUCCESS_NOTIFICATION_TOPIC', 'ERROR_NOTIFICATION_TOPIC']));
  }
}

const ops = storedResourceOps('endpoint-config', 'EndpointConfig');
export const { describe: describeEndpointConfig, delete: deleteEndpointConfig, list: listEndpointConfigs } = ops;
