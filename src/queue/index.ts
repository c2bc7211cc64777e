export type { Backlog, InvocationQueue, Lease } from './invocation-queue.js';
export { createSqliteQueue, type SqliteQueue, type SqliteQueueOptions } from './sqlite/sqlite-queue.js';
