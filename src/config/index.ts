export { loadConfig, demoConfig, type ConfigSources, type ResolvedConfig } from './load.js';
export type { AsyncInferenceConfig, Config, EndpointConfig, ImageConfig, ModelConfig } from './schema.js';
