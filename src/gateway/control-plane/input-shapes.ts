/**
 * One input shape per control-plane operation, after SageMaker's service model (types, lengths,
 * patterns, enums, required members), checked before any operation runs. Instance counts are
 * capped by this server's `limits` as well as by the model.
 */
import type { Shape, StringRule } from '../../domain/index.js';
import type { InstanceLimits } from './context.js';

const str = (rule?: StringRule, values?: readonly string[]): Shape => ({ type: 'string', ...(rule && { rule }), ...(values && { enum: values }) });
const int = (min?: number, max?: number): Shape => ({ type: 'integer', ...(min !== undefined && { min }), ...(max !== undefined && { max }) });
const float = (min?: number): Shape => ({ type: 'float', ...(min !== undefined && { min }) });
const list = (member: Shape, min?: number, max?: number): Shape => ({ type: 'list', member, ...(min !== undefined && { min }), ...(max !== undefined && { max }) });
const struct = (members: Record<string, Shape>, required: string[] = []): Shape => ({ type: 'structure', members, required });
const BOOLEAN: Shape = { type: 'boolean' };
const TIMESTAMP: Shape = { type: 'timestamp' };
const DOCUMENT: Shape = { type: 'document' };

const NAME = { max: 63, pattern: /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/, patternText: '^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}' };
const MODEL_NAME = str({ min: 1, max: 63, pattern: /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/, patternText: '^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?$' });
const RESOURCE_NAME = str({ min: 1, ...NAME });
const S3_PATH = str({ max: 512, pattern: /^(https|s3):\/\/([^/])\/?(.*)$/, patternText: '^(https|s3)://([^/])/?(.*)$' });
const SNS_TOPIC = str({ max: 2048, pattern: /^arn:aws[a-z-]*:sns:[a-z0-9-]*:[0-9]{12}:[a-zA-Z0-9_.-]+$/, patternText: 'arn:aws[a-z\\-]*:sns:[a-z0-9\\-]*:[0-9]{12}:[a-zA-Z0-9_.-]+' });
const TAG_TEXT = /^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u;
const TAGS = list(struct({
  Key: str({ min: 1, max: 128, pattern: TAG_TEXT, patternText: '^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$' }),
  Value: str({ max: 256, pattern: TAG_TEXT, patternText: '^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$' }),
}, ['Key', 'Value']), 0, 50);

const CONTAINER = struct({
  ContainerHostname: str(NAME),
  Image: str({ max: 255, pattern: /^[\S]+$/, patternText: '[\\S]+' }),
  ModelDataUrl: str({ max: 1024, pattern: /^(https|s3):\/\/([^/]+)\/?(.*)$/, patternText: '^(https|s3)://([^/]+)/?(.*)$' }),
  Environment: { type: 'map', key: { max: 1024, pattern: /^[a-zA-Z_][a-zA-Z0-9_]*$/, patternText: '[a-zA-Z_][a-zA-Z0-9_]*' }, value: str({ max: 1024 }), max: 100 },
  Mode: str(undefined, ['SingleModel', 'MultiModel']),
  ModelPackageName: str({ min: 1, max: 170 }),
  ImageConfig: DOCUMENT,
  ModelDataSource: DOCUMENT,
  MultiModelConfig: DOCUMENT,
  InferenceSpecificationName: str({ min: 1, max: 63 }),
});

const LIST_COMMON = {
  NameContains: str({ max: 63, pattern: /^[a-zA-Z0-9-]+$/, patternText: '[a-zA-Z0-9-]+' }),
  CreationTimeBefore: TIMESTAMP,
  CreationTimeAfter: TIMESTAMP,
  SortOrder: str(undefined, ['Ascending', 'Descending']),
  MaxResults: int(1, 100),
  NextToken: str({ max: 8192 }),
};

const STATUSES = ['OutOfService', 'Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'InService', 'Deleting', 'Failed', 'UpdateRollbackFailed'];

export function inputShapes(limits: InstanceLimits): ReadonlyMap<string, Shape> {
  const perEndpoint = `the most instances this server runs for one endpoint, its limits.instancesPerEndpoint`;
  const instanceCount = (min: number): Shape => ({ type: 'integer', min, max: limits.instancesPerEndpoint, limitText: perEndpoint });
  const endpointName = { EndpointName: RESOURCE_NAME };
  const configName = { EndpointConfigName: RESOURCE_NAME };
  return new Map<string, Shape>([
    ['CreateModel', struct({
      ModelName: MODEL_NAME, PrimaryContainer: CONTAINER, Containers: list(CONTAINER, 0, 15), Tags: TAGS,
      ExecutionRoleArn: str({ min: 20, max: 2048 }), EnableNetworkIsolation: BOOLEAN, InferenceExecutionConfig: DOCUMENT, VpcConfig: DOCUMENT,
    }, ['ModelName'])],
    ['DescribeModel', struct({ ModelName: MODEL_NAME }, ['ModelName'])],
    ['DeleteModel', struct({ ModelName: MODEL_NAME }, ['ModelName'])],
    ['ListModels', struct({ ...LIST_COMMON, SortBy: str(undefined, ['Name', 'CreationTime']) })],
    ['CreateEndpointConfig', struct({
      EndpointConfigName: RESOURCE_NAME,
      ProductionVariants: list(struct({
        VariantName: RESOURCE_NAME, ModelName: str({ max: 63 }),
        InitialInstanceCount: instanceCount(1), InitialVariantWeight: float(0), InstanceType: str(),
        AcceleratorType: str(), VolumeSizeInGB: int(1, 512),
        ModelDataDownloadTimeoutInSeconds: int(60, 3600), ContainerStartupHealthCheckTimeoutInSeconds: int(60, 3600),
        EnableSSMAccess: BOOLEAN, ServerlessConfig: DOCUMENT, CoreDumpConfig: DOCUMENT, ManagedInstanceScaling: DOCUMENT,
        RoutingConfig: DOCUMENT, InferenceAmiVersion: str(),
      }, ['VariantName', 'ModelName']), 1, 10),
      AsyncInferenceConfig: struct({
        ClientConfig: struct({ MaxConcurrentInvocationsPerInstance: int(1, 1000) }),
        OutputConfig: struct({
          KmsKeyId: str({ max: 2048, pattern: /^[a-zA-Z0-9:/_-]*$/, patternText: '[a-zA-Z0-9:/_-]*' }),
          S3OutputPath: S3_PATH,
          S3FailurePath: S3_PATH,
          NotificationConfig: struct({
            SuccessTopic: SNS_TOPIC, ErrorTopic: SNS_TOPIC,
            IncludeInferenceResponseIn: list(str(undefined, ['SUCCESS_NOTIFICATION_TOPIC', 'ERROR_NOTIFICATION_TOPIC']), 0, 2),
          }),
        }, ['S3OutputPath']),
      }, ['OutputConfig']),
      KmsKeyId: str({ max: 2048 }), DataCaptureConfig: DOCUMENT, Tags: TAGS, ExplainerConfig: DOCUMENT, ShadowProductionVariants: DOCUMENT,
      ExecutionRoleArn: str({ min: 20, max: 2048 }), VpcConfig: DOCUMENT, EnableNetworkIsolation: BOOLEAN,
    }, ['EndpointConfigName', 'ProductionVariants'])],
    ['DescribeEndpointConfig', struct(configName, ['EndpointConfigName'])],
    ['DeleteEndpointConfig', struct(configName, ['EndpointConfigName'])],
    ['ListEndpointConfigs', struct({ ...LIST_COMMON, SortBy: str(undefined, ['Name', 'CreationTime']) })],
    ['CreateEndpoint', struct({ ...endpointName, ...configName, DeploymentConfig: DOCUMENT, Tags: TAGS }, ['EndpointName', 'EndpointConfigName'])],
    ['DescribeEndpoint', struct(endpointName, ['EndpointName'])],
    ['DeleteEndpoint', struct(endpointName, ['EndpointName'])],
    ['ListEndpoints', struct({
      ...LIST_COMMON, SortBy: str(undefined, ['Name', 'CreationTime', 'Status']), StatusEquals: str(undefined, STATUSES),
      LastModifiedTimeBefore: TIMESTAMP, LastModifiedTimeAfter: TIMESTAMP,
    })],
    ['UpdateEndpoint', struct({
      ...endpointName, ...configName, RetainAllVariantProperties: BOOLEAN, ExcludeRetainedVariantProperties: DOCUMENT,
      DeploymentConfig: DOCUMENT, RetainDeploymentConfig: BOOLEAN,
    }, ['EndpointName', 'EndpointConfigName'])],
    ['UpdateEndpointWeightsAndCapacities', struct({
      ...endpointName,
      DesiredWeightsAndCapacities: list(struct({
        VariantName: RESOURCE_NAME, DesiredWeight: float(0), DesiredInstanceCount: instanceCount(0), ServerlessUpdateConfig: DOCUMENT,
      }, ['VariantName']), 1, 10),
    }, ['EndpointName', 'DesiredWeightsAndCapacities'])],
  ]);
}
