export {
  decideScale, ScalingReason,
  type ScalingDecision, type ScalingInput, type ScalingObservation, type ScalingSettings,
} from './scaling-policy.js';
