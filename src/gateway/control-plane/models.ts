/** CreateModel, DescribeModel, DeleteModel, ListModels. */
import { constraints, refusedEnvironmentVariables, type Constraints } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import { checkImageUrl } from '../../outbound/index.js';
import { alreadyExists, arn, type ControlPlaneContext } from './context.js';
import { storedResourceOps } from './stored-resource-ops.js';

interface ContainerDefinition {
  Image?: string;
  ModelDataUrl?: string;
  Environment?: Record<string, string>;
  [key: string]: unknown;
}

/** Already of its shape (routes.ts checks every input first); what is left are the rules across members. */
interface CreateModelInput {
  ModelName: string;
  PrimaryContainer?: ContainerDefinition;
  Containers?: ContainerDefinition[];
  [key: string]: unknown;
}

export async function createModel(ctx: ControlPlaneContext, input: CreateModelInput): Promise<object> {
  if (!input.PrimaryContainer && !input.Containers?.length) {
    throw new AppError('ValidationException', 'Either PrimaryContainer or Containers must be provided: the container (Image, ModelDataUrl, Environment) that serves the model.');
  }
  const c = constraints();
  if (input.PrimaryContainer) checkImage(ctx, c, 'primaryContainer', input.PrimaryContainer);
  input.Containers?.forEach((container, i) => checkImage(ctx, c, `containers.${i + 1}.member`, container));
  if (input.PrimaryContainer) checkEnvironment(ctx, c, 'primaryContainer', input.PrimaryContainer);
  input.Containers?.forEach((container, i) => checkEnvironment(ctx, c, `containers.${i + 1}.member`, container));
  const problems = c.message();
  if (problems) throw new AppError('ValidationException', problems);
  const name = input.ModelName;
  const modelArn = arn(ctx, 'model', name);
  const created = await ctx.catalog.create('model', name, { ...input, ModelArn: modelArn });
  if (!created) throw alreadyExists(ctx, 'model', name);
  return { ModelArn: modelArn };
}

/**
 * An Image that is not an entry of the config's `images` but an http(s) URL: the server will call
 * it, so the outbound policy must allow it, and it may not carry a query, fragment or credentials.
 */
function checkImage(ctx: ControlPlaneContext, c: Constraints, member: string, container: ContainerDefinition): void {
  const image = container.Image;
  if (image === undefined || (ctx.images && Object.hasOwn(ctx.images, image)) || !/^https?:\/\//i.test(image)) return;
  try {
    checkImageUrl(ctx.outbound, image);
  } catch (err) {
    c.add(`Value at '${member}.image' failed to satisfy constraint: ${(err as Error).message}`);
  }
}

/** Variables that would load code into the model process, unless the operator's images entry allows them. */
function checkEnvironment(ctx: ControlPlaneContext, c: Constraints, member: string, container: ContainerDefinition): void {
  if (!container.Environment) return;
  const image = container.Image;
  const entry = image !== undefined && ctx.images && Object.hasOwn(ctx.images, image) ? ctx.images[image] : undefined;
  const refused = refusedEnvironmentVariables(container.Environment, entry?.allowedEnvironment ?? []);
  if (refused.length === 0) return;
  c.add(`Value at '${member}.environment' failed to satisfy constraint: Member must not set ${refused.join(', ')}: ` +
    'variables that load code into the model\'s interpreter, shell or dynamic linker are refused unless the server\'s config lists them in ' +
    `images[${JSON.stringify(image ?? '')}].allowedEnvironment`);
}

const ops = storedResourceOps('model', 'Model');
export const { describe: describeModel, delete: deleteModel, list: listModels } = ops;
