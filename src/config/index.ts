export { loadConfig, demoConfig, type ConfigSources, type ConfiguredKey, type ResolvedConfig } from './load.js';
export { isLoopback } from './schema.js';
export type { AsyncInferenceConfig, Config, EndpointConfig, ImageConfig, ModelConfig } from './schema.js';
