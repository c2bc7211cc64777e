export {
  decideScale, ScalingReason,
  type ScalingDecision, type ScalingInput, type ScalingObservation, type ScalingSettings,
} from './scaling-policy.js';
export { createAutoscaler, type Autoscaler, type AutoscalerOptions, type BacklogSignal, type ScalableEndpoints, type ScalingEvent } from './autoscaler.js';
export { NO_INSTANCES, type Fleet, type InstanceTally } from './fleet.js';
export { createFleetScaling, shareOf, type FleetScaling, type LocalEndpoints } from './fleet-scaling.js';
export { createRedisFleet, type RedisFleetOptions } from './redis/redis-fleet.js';
