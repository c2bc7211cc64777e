import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { startRedisServer, type RedisServer } from '../../../test/support/redis-server.js';
import { catalogConformance } from '../conformance.js';
import { createRedisCatalog } from './redis-catalog.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis?.stop());

catalogConformance('redis', async () => {
  const prefix = `t-${randomUUID()}`;
  return {
    async open() {
      const c = createRedisCatalog({ url: redis.url, prefix });
      await c.start();
      return c;
    },
  };
});
