export { ResourceKinds, type Catalog, type Resource, type ResourceKind } from './catalog.js';
export { createSqliteCatalog } from './sqlite/sqlite-catalog.js';
export { createRedisCatalog, type RedisCatalogOptions } from './redis/redis-catalog.js';
