/** CreateModel, DescribeModel, DeleteModel, ListModels. */
import { constraints } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import { alreadyExists, arn, type ControlPlaneContext } from './context.js';
import { storedResourceOps } from './stored-resource-ops.js';

const MODEL_NAME = { min: 1, max: 63, pattern: /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/, patternText: '^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?$' };

interface ContainerDefinition {
  Image?: string;
  ModelDataUrl?: string;
  Environment?: Record<string, string>;
  [key: string]: unknown;
}

interface CreateModelInput {
  ModelName?: string;
  PrimaryContainer?: ContainerDefinition;
  Containers?: ContainerDefinition[];
  Tags?: unknown[];
  [key: string]: unknown;
}

function validateContainer(c: ReturnType<typeof constraints>, member: string, container: ContainerDefinition): void {
  c.string(`${member}.image`, container.Image, { max: 255, pattern: /^[\S]+$/, patternText: '[\\S]+' });
  c.string(`${member}.modelDataUrl`, container.ModelDataUrl, { max: 1024, pattern: /^(https|s3):\/\/([^/]+)\/?(.*)$/, patternText: '^(https|s3)://([^/]+)/?(.*)$' });
  if (container.Environment !== undefined) {
    const entries = Object.entries(container.Environment ?? {});
    if (entries.length > 100) c.add(`Value at '${member}.environment' failed to satisfy constraint: Member must have length less than or equal to 100`);
    for (const [k, v] of entries) {
      c.string(`${member}.environment.key`, k, { max: 1024, pattern: /^[a-zA-Z_][a-zA-Z0-9_]*$/, patternText: '[a-zA-Z_][a-zA-Z0-9_]*' });
      c.string(`${member}.environment.value`, v, { max: 1024 });
    }
  }
}

export async function createModel(ctx: ControlPlaneContext, input: CreateModelInput): Promise<object> {
  const c = constraints();
  if (c.required('modelName', input.ModelName)) c.string('modelName', input.ModelName, MODEL_NAME);
  if (input.PrimaryContainer) validateContainer(c, 'primaryContainer', input.PrimaryContainer);
  c.length('containers', input.Containers, 0, 15);
  input.Containers?.forEach((container, i) => validateContainer(c, `containers.${i + 1}.member`, container));
  c.length('tags', input.Tags, 0, 50);
  const problems = c.message();
  if (problems) throw new AppError('ValidationException', problems);
  if (!input.PrimaryContainer && !input.Containers?.length) {
    throw new AppError('ValidationException', 'Either PrimaryContainer or Containers must be provided: the container (Image, ModelDataUrl, Environment) that serves the model.');
  }
  const name = input.ModelName!;
  const modelArn = arn(ctx, 'model', name);
  const created = await ctx.catalog.create('model', name, { ...input, ModelArn: modelArn });
  if (!created) throw alreadyExists(ctx, 'model', name);
  return { ModelArn: modelArn };
}

const ops = storedResourceOps('model', 'Model');
export const { describe: describeModel, delete: deleteModel, list: listModels } = ops;
