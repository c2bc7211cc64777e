/**
 * The autoscaling policy: from one endpoint's settings, what it observes now, and when it last
 * scaled, decide how many instances it should want. Pure: no clock, no I/O, no state; the loop
 * that calls it owns all three.
 *
 * The split with the loop (the applier):
 * - The policy says HOW MANY. It may return fewer instances than have work in flight; it never
 *   says WHICH ones go. The applier stops idle instances first and drains busy ones (no new
 *   leases; stopped when their in-flight work finishes), so a scale-in never cuts off work.
 * - A crashed or unhealthy instance is the applier's too: it is replaced to keep the desired count
 *   and counted in `asyncinfer_instance_replacements_total`; the policy does not see it.
 * - The loop records `nowMs` as `lastScaleOutAtMs` whenever the desired count rises and as
 *   `lastScaleInAtMs` whenever it falls, whatever the reason (a pin included). It seeds
 *   `backlogLastNonZeroAtMs` with its start time, so instances started with the server get a full
 *   idle window before going to zero. It counts a scaling event only when the count changes: the
 *   `hold: …` reasons are for the log. It should read a monotonic clock: a wall clock stepped
 *   back would stretch every cooldown.
 * - The loop runs on a timer AND on the first enqueue to an endpoint at zero, which is what makes
 *   the wake from zero immediate.
 *
 * Rules, first match wins:
 *  1. `pinned`: a pinned count (UpdateEndpointWeightsAndCapacities or the config) wins over
 *     everything, the bounds included, until it is removed.
 *  2. `above-max` / `below-min`: bounds are hard. A count outside them (the config changed) goes
 *     back inside at once, ignoring cooldowns; below min it goes to the computed count (≥ min).
 *  3. `wake-from-zero`: desired 0 and any backlog → the computed count, at least 1, at once,
 *     ignoring cooldowns (`hold: max is 0` when max is 0: the work waits).
 *  4. computed = clamp(ceil(backlog / targetBacklogPerInstance), min, max).
 *     With min 0 and backlog 0, computed is 0 only when nothing is in flight and the backlog has
 *     been zero for idleBeforeZero; until then, if instances are running, it is 1, so one stays
 *     warm (an endpoint already at 0 stays there).
 *  5. `scale-out` to computed when scaleOutCooldown has passed since the last scale-out (a
 *     recent scale-in does not delay it); otherwise `hold: scale-out cooldown`.
 *  6. `to-zero` when computed is 0: the idle timer alone governs it.
 *  7. `scale-in` straight to computed when scaleInCooldown has passed since the last scaling
 *     action in either direction; otherwise `hold: scale-in cooldown`.
 *  8. otherwise `hold: on target` (or `hold: idle timer` while the warm instance waits for zero).
 *
 * What we copy from AWS Application Auto Scaling target tracking, as SageMaker recommends for
 * async endpoints (ApproximateBacklogSizePerInstance, TargetValue, Min/MaxCapacity, cooldowns):
 * - The proportional formula. AAS sets capacity × metric ÷ target; for a per-instance metric
 *   (backlog ÷ capacity) that is backlog ÷ target. We round up, the side that never under-serves.
 * - Min 0 for async endpoints, and hard Min/Max bounds.
 * - Asymmetry: scale-out waits only for its own cooldown since the last scale-out, and a scale-out
 *   during a scale-in cooldown goes ahead at once; scale-in waits for its cooldown.
 *
 * Where we deliberately differ:
 * - No CloudWatch alarms. AAS acts after about 3 one-minute datapoints above target and 15 below
 *   (exact counts unconfirmed, spec §6); we act on the exact current backlog (counters kept by the queue) every tick. Standing in for
 *   the long scale-in alarm, our scale-in cooldown counts from the last action in EITHER
 *   direction, so a scale-out is never undone within one scale-in cooldown.
 * - Wake from zero. AWS needs a second, step-scaling policy on a HasBacklogWithoutCapacity alarm
 *   (2 × 60 s, then a 300 s cooldown): 2–3 minutes before an instance even starts. Like Knative's
 *   activator and KEDA's activation (0 → 1 outside the HPA), we start instances on the first
 *   enqueue, and straight to the computed count, not one.
 * - The scale-out cooldown is a plain rate limit on instance starts. AAS still lets a larger
 *   scale-out through during it: its estimate (current capacity × per-instance metric) lags while
 *   new capacity starts. Ours is computed from the whole backlog, not from the ready instances,
 *   so starting instances never look like missing capacity and there is nothing to correct.
 *   That is also why the policy does not take the ready count as an input. Set it to 0 to follow
 *   the backlog on every tick.
 * - Scale to zero has its own idle timer, as KEDA's `cooldownPeriod` governs only the last step
 *   to zero and Knative removes the last replica after a window without traffic. Going to zero is
 *   not a scale-in: it ignores scaleInCooldown and may drop from N at once, since every instance
 *   has been idle for the whole window. AWS has no idle timer (it reaches 0 through the ordinary
 *   scale-in alarm).
 * - Scale-in goes straight to the computed count, not one step at a time. AAS target tracking
 *   and the Kubernetes HPA (with its 300 s stabilisation window) both jump to the computed value
 *   and get their caution from waiting, not from step size. One step per cooldown would keep
 *   idle instances (often GPUs) for (N − needed) × cooldown: 45 minutes from 10 to 1 at the 300 s
 *   SageMaker default. A scale-in that turns out too deep costs only instance starts, because
 *   the backlog counts in-flight work (it falls only when work is done) and the applier drains.
 * - A pin holds. On SageMaker, a count set by UpdateEndpointWeightsAndCapacities on an autoscaled
 *   variant can be changed by the next scaling activity; here a pin suspends the policy until it is removed,
 *   like KEDA's `autoscaling.keda.sh/paused-replicas`.
 */

/** Why the desired count is what it is. Label values of `asyncinfer_scaling_events_total{reason}` and log text. */
export const ScalingReason = {
  pinned: 'pinned',
  aboveMax: 'above-max',
  belowMin: 'below-min',
  wakeFromZero: 'wake-from-zero',
  scaleOut: 'scale-out',
  scaleIn: 'scale-in',
  toZero: 'to-zero',
  holdOnTarget: 'hold: on target',
  holdScaleOutCooldown: 'hold: scale-out cooldown',
  holdScaleInCooldown: 'hold: scale-in cooldown',
  holdIdleTimer: 'hold: idle timer',
  holdMaxZero: 'hold: max is 0',
} as const;
export type ScalingReason = (typeof ScalingReason)[keyof typeof ScalingReason];

/**
 * One endpoint's `instances` settings, validated by the config schema:
 * 0 ≤ min ≤ max, targetBacklogPerInstance > 0, durations ≥ 0, pinnedCount a whole number ≥ 0.
 */
export interface ScalingSettings {
  readonly min: number;
  readonly max: number;
  readonly targetBacklogPerInstance: number;
  readonly scaleOutCooldownMs: number;
  readonly scaleInCooldownMs: number;
  readonly idleBeforeZeroMs: number;
  /** Set by UpdateEndpointWeightsAndCapacities or the config; suspends the policy. */
  readonly pinnedCount?: number | undefined;
}

export interface ScalingObservation {
  /** Queued plus in flight (ApproximateBacklogSize). */
  readonly backlog: number;
  readonly inFlight: number;
  /** The desired count now, i.e. the last decision applied. */
  readonly desired: number;
}

export interface ScalingInput {
  readonly settings: ScalingSettings;
  readonly observation: ScalingObservation;
  /** Undefined: never scaled out since the loop started. */
  readonly lastScaleOutAtMs?: number | undefined;
  /** Undefined: never scaled in since the loop started. */
  readonly lastScaleInAtMs?: number | undefined;
  /** When the backlog was last seen above zero; the loop's start time if it never was. */
  readonly backlogLastNonZeroAtMs: number;
  readonly nowMs: number;
}

export interface ScalingDecision {
  readonly desired: number;
  readonly reason: ScalingReason;
}

export function decideScale(input: ScalingInput): ScalingDecision {
  const { settings: s, observation: o, nowMs } = input;
  if (s.pinnedCount !== undefined) return { desired: s.pinnedCount, reason: ScalingReason.pinned };

  // The two counters are read one after the other, so a read that straddles a lease can see more
  // in flight than in the backlog; in-flight work is backlog by definition.
  const backlog = Math.max(o.backlog, o.inFlight);
  const demanded = Math.min(Math.max(Math.ceil(backlog / s.targetBacklogPerInstance), s.min), s.max);

  if (o.desired > s.max) return { desired: s.max, reason: ScalingReason.aboveMax };
  if (o.desired < s.min) return { desired: demanded, reason: ScalingReason.belowMin };
  if (o.desired === 0 && backlog > 0) {
    if (s.max === 0) return { desired: 0, reason: ScalingReason.holdMaxZero };
    return { desired: demanded, reason: ScalingReason.wakeFromZero }; // ≥ 1: backlog > 0 and max ≥ 1
  }

  const idleLongEnough = backlog === 0 && o.inFlight === 0 && nowMs - input.backlogLastNonZeroAtMs >= s.idleBeforeZeroMs;
  // Keeps one running instance warm until the idle timer runs out; never starts one.
  const waitingForZero = demanded === 0 && o.desired > 0 && !idleLongEnough;
  const computed = waitingForZero ? 1 : demanded;

  if (computed > o.desired) {
    if (!elapsed(input.lastScaleOutAtMs, nowMs, s.scaleOutCooldownMs)) return hold(o, ScalingReason.holdScaleOutCooldown);
    return { desired: computed, reason: ScalingReason.scaleOut };
  }
  if (computed < o.desired) {
    if (computed === 0) return { desired: 0, reason: ScalingReason.toZero };
    const lastActionAtMs = latest(input.lastScaleOutAtMs, input.lastScaleInAtMs);
    if (!elapsed(lastActionAtMs, nowMs, s.scaleInCooldownMs)) return hold(o, ScalingReason.holdScaleInCooldown);
    return { desired: computed, reason: ScalingReason.scaleIn };
  }
  return hold(o, waitingForZero ? ScalingReason.holdIdleTimer : ScalingReason.holdOnTarget);
}

function hold(o: ScalingObservation, reason: ScalingReason): ScalingDecision {
  return { desired: o.desired, reason };
}

function elapsed(sinceMs: number | undefined, nowMs: number, cooldownMs: number): boolean {
  return sinceMs === undefined || nowMs - sinceMs >= cooldownMs;
}

function latest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}
