/**
 * Our own admin API for the notification outbox (not a SageMaker API): list entries with their
 * attempts, and replay failed ones. `asyncinfer notifications` is its command-line client.
 *
 *   GET  /admin/notifications?state=failed|pending|delivered&endpoint=NAME&limit=N
 *   POST /admin/notifications/replay   {"ids": ["..."]} or {} for every failed entry → {"replayed": n}
 *
 * Errors are `{"message"}` with status 400. Calls are signed like the SageMaker APIs (scope service
 * `sagemaker`); the IAM actions are `asyncinfer:ListNotifications` and `asyncinfer:ReplayNotifications`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { OutboxStates, type NotificationOutbox, type OutboxEntryWithHistory, type OutboxState } from '../notify/index.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const MAX_IDS = 1000;

export function registerAdminRoutes(app: FastifyInstance, outbox: NotificationOutbox): void {
  app.get<{ Querystring: Record<string, string | undefined> }>('/admin/notifications', { config: { access: () => ({ action: 'asyncinfer:ListNotifications', resource: '*' }) } }, async (request, reply) => {
    const { state, endpoint, limit } = request.query;
    if (state !== undefined && !(OutboxStates as readonly string[]).includes(state)) {
      return badRequest(reply, `state must be one of ${OutboxStates.join(', ')}; got "${state}".`);
    }
    const n = limit === undefined ? DEFAULT_LIMIT : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) return badRequest(reply, `limit must be an integer from 1 to ${MAX_LIMIT}; got "${limit}".`);
    const entries = await outbox.list({ limit: n, ...(state !== undefined && { state: state as OutboxState }), ...(endpoint && { endpointName: endpoint }) });
    return reply.header('content-type', 'application/json').send(JSON.stringify({ notifications: entries.map(present) }));
  });

  app.post('/admin/notifications/replay', { config: { access: () => ({ action: 'asyncinfer:ReplayNotifications', resource: '*' }) } }, async (request, reply) => {
    let ids: string[] | undefined;
    const body = request.body as Buffer | undefined;
    if (body && body.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return badRequest(reply, 'The body must be JSON: {"ids": ["..."]}, or {} to replay every failed notification.');
      }
      const given = (parsed as { ids?: unknown } | null)?.ids;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)
        || (given !== undefined && (!Array.isArray(given) || given.length > MAX_IDS || !given.every((id) => typeof id === 'string')))) {
        return badRequest(reply, `The body must be {"ids": [up to ${MAX_IDS} notification ids]}, or {} to replay every failed notification.`);
      }
      ids = given as string[] | undefined;
    }
    const replayed = await outbox.replay(ids);
    return reply.header('content-type', 'application/json').send(JSON.stringify({ replayed }));
  });
}

function present(e: OutboxEntryWithHistory): Record<string, unknown> {
  return {
    id: e.id, state: e.state, topicArn: e.topicArn, endpointName: e.endpointName, variantName: e.variantName,
    attempts: e.attempts, deliveredTargets: e.deliveredTargets,
    createdAt: new Date(e.createdAtMs).toISOString(), updatedAt: new Date(e.updatedAtMs).toISOString(),
    ...(e.state === 'pending' && { nextAttemptAt: new Date(e.nextAttemptAtMs).toISOString() }),
    ...(e.lastError !== undefined && { lastError: e.lastError }),
    event: parseOrRaw(e.message),
    history: e.history.map((a) => ({
      target: a.target, at: new Date(a.atMs).toISOString(), latencyMs: Math.round(a.latencyMs), ok: a.ok,
      ...(a.status !== undefined && { status: a.status }), ...(a.error !== undefined && { error: a.error }),
    })),
  };
}

function parseOrRaw(message: string): unknown {
  try {
    return JSON.parse(message);
  } catch {
    return message;
  }
}

function badRequest(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).header('content-type', 'application/json').send(JSON.stringify({ message }));
}
