export { createMetrics, type BacklogSource, type Metrics } from './metrics.js';
