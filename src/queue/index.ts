export type { Backlog, InvocationQueue, Lease } from './invocation-queue.js';
export { outcomeObject } from './invocation-queue.js';
export { createSqliteQueue, type SqliteQueue, type SqliteQueueOptions } from './sqlite/sqlite-queue.js';
export { createRedisQueue, type RedisQueue, type RedisQueueOptions } from './redis/redis-queue.js';
export {
  checkPrefix, closeRedis, connectRedis, loadScripts, luaScript, redactRedisUrl, runScript, toUnavailable,
  type LuaScript, type Redis, type RedisArg,
} from './redis/redis-connection.js';
export { acquireLockFile } from './sqlite/lock-file.js';
