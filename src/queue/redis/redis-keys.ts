/**
 * The key layout of one deployment (prefix P, default `asyncinfer`). Every key starts with the
 * hash tag `{P}:`, so all of them hash to one Redis Cluster slot and every Lua script touches
 * that slot only. The scripts get `{P}:` as KEYS[1] and build the other names from it, with the
 * same spellings as below.
 *
 *   {P}:seq                     counter: enqueue and outbox order
 *   {P}:inv:<id>                hash: one invocation (see invocation-hash.ts)
 *   {P}:queued:<endpoint>       zset id → seq: the endpoint's queued invocations, oldest first
 *   {P}:expiry                  zset id → expiresAtMs: queued invocations of every endpoint, by TTL
 *   {P}:leases                  zset id → leaseExpiresAtMs: running invocations
 *   {P}:running                 hash endpoint → count of running invocations
 *   {P}:endpoints               set: endpoint names ever enqueued (woken after a reconnect)
 *   {P}:ntf:<eventId>           hash: one outbox entry
 *   {P}:ntf-history:<eventId>   list: its delivery attempts (JSON), oldest first
 *   {P}:ntf-due                 zset eventId → max(nextAttemptAtMs, claimExpiresAtMs): pending entries
 *   {P}:ntf-all                 zset eventId → seq
 *   {P}:ntf-state:<state>       zset eventId → seq
 *   {P}:ntf-endpoint:<endpoint> zset eventId → seq
 *   {P}:catalog…               the catalog's keys (src/catalog/redis/catalog-scripts.ts)
 *
 * Pub/sub channels (not keys, so no hash tag): `P:available` (message: endpoint name) and
 * `P:notifications` (message: `added`).
 */
export interface QueueKeys {
  /** `{P}:` — KEYS[1] of every script. */
  base: string;
  invocation(id: string): string;
  endpoints: string;
  notification(eventId: string): string;
  history(eventId: string): string;
  due: string;
  channels: { available: string; notifications: string };
}

export function queueKeys(prefix: string): QueueKeys {
  const base = `{${prefix}}:`;
  return {
    base,
    invocation: (id) => `${base}inv:${id}`,
    endpoints: `${base}endpoints`,
    notification: (eventId) => `${base}ntf:${eventId}`,
    history: (eventId) => `${base}ntf-history:${eventId}`,
    due: `${base}ntf-due`,
    channels: { available: `${prefix}:available`, notifications: `${prefix}:notifications` },
  };
}
