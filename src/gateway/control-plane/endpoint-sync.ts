/**
 * The API-created endpoints every worker should run, read from the catalog. With Redis the catalog
 * is shared, so this is how an endpoint created through any gateway reaches every worker: each
 * reads the list, deploys what it does not run yet, replaces what runs another configuration, and
 * stops what is gone (deleted, failed). Gateways read the same list to know the endpoints' output
 * paths (their accept path).
 */
import type { ControlPlaneContext, EndpointDeployment } from './context.js';
import { resolveDeployment, type EndpointDoc } from './endpoints.js';

/** Statuses in which an endpoint's instances run (and it accepts invocations). */
const RUNNING = new Set<EndpointDoc['EndpointStatus']>(['Creating', 'InService', 'Updating']);

export async function wantedApiEndpoints(ctx: ControlPlaneContext): Promise<Map<string, EndpointDeployment>> {
  const wanted = new Map<string, EndpointDeployment>();
  for (const resource of await ctx.catalog.list('endpoint')) {
    const doc = resource.doc as unknown as EndpointDoc;
    if (!RUNNING.has(doc.EndpointStatus)) continue;
    const deployment = await resolveDeployment(ctx, resource.name, doc.EndpointConfigName, doc.DesiredInstanceCount);
    // One that cannot be resolved is failed by the gateway bringing it up; nothing to run.
    if (typeof deployment !== 'string') wanted.set(resource.name, deployment);
  }
  return wanted;
}
