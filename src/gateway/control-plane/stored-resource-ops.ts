/**
 * Describe, Delete and List for resources that live only in the catalog (models and endpoint
 * configurations): the same three operations, named after the resource.
 */
import { constraints } from '../../domain/index.js';
import { AppError } from '../../errors.js';
import { arn, epochSeconds, notFound, type ArnKind, type ControlPlaneContext } from './context.js';
import { listPage, type ListRequest } from './list-page.js';

type Operation = (ctx: ControlPlaneContext, input: Record<string, unknown>) => Promise<object>;

/** `noun` is the resource's name in the API: `Model` → ModelName, ModelArn, Models. */
export function storedResourceOps(kind: ArnKind & ('model' | 'endpoint-config'), noun: 'Model' | 'EndpointConfig'): { describe: Operation; delete: Operation; list: Operation } {
  const nameKey = `${noun}Name`;
  const member = `${noun[0]!.toLowerCase()}${noun.slice(1)}Name`;
  return {
    async describe(ctx, input) {
      const name = requireName(input[nameKey] as string | undefined, member);
      const resource = await ctx.catalog.get(kind, name);
      if (!resource) throw notFound(ctx, kind, name);
      return { ...resource.doc, CreationTime: epochSeconds(resource.createdAtMs) };
    },
    async delete(ctx, input) {
      const name = requireName(input[nameKey] as string | undefined, member);
      if (!(await ctx.catalog.delete(kind, name))) throw notFound(ctx, kind, name);
      return {};
    },
    async list(ctx, input) {
      const { page, nextToken } = listPage(await ctx.catalog.list(kind), input as ListRequest, { sortBy: ['Name', 'CreationTime'] });
      return {
        [`${noun}s`]: page.map((r) => ({ [nameKey]: r.name, [`${noun}Arn`]: arn(ctx, kind, r.name), CreationTime: epochSeconds(r.createdAtMs) })),
        ...(nextToken && { NextToken: nextToken }),
      };
    },
  };
}

export function requireName(value: string | undefined, member: string): string {
  const c = constraints();
  if (c.required(member, value)) c.string(member, value, { min: 1, max: 63 });
  const problems = c.message();
  if (problems) throw new AppError('ValidationException', problems);
  return value!;
}
