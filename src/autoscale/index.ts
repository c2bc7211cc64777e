export {
  decideScale, ScalingReason,
  type ScalingDecision, type ScalingInput, type ScalingObservation, type ScalingSettings,
} from './scaling-policy.js';
export { createAutoscaler, type Autoscaler, type AutoscalerOptions, type BacklogSignal, type ScalableEndpoints, type ScalingEvent } from './autoscaler.js';
