export { NO_DRAIN, type Drainer, type Instance, type InstanceCounts, type InstancePool, type ReplacementCause } from './instance-pool.js';
export { createProcessPool, DEFAULT_MODEL_PATH, MAX_INSTANCES_PER_POOL, MODEL_BASE_ENV_NAMES, modelBaseEnv, type ProcessPoolOptions } from './process-pool.js';
export { createUrlPool, type UrlPoolOptions } from './url-pool.js';
export { createInstanceRegistry, type InstanceRegistry } from './orphans.js';
export { unpackModelData } from './model-data.js';
