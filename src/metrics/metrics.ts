/**
 * The one metrics registry; every metric name lives here. Series follow Prometheus naming
 * (`asyncinfer_*`, base units, `_total` for counters); docs/metrics.md maps each to its SageMaker
 * CloudWatch name. Per-invocation series carry the `endpoint` and `variant` labels, as SageMaker's
 * EndpointName and VariantName dimensions.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const ENDPOINT_LABELS = ['endpoint', 'variant'] as const;
/** From 1 ms to about 2 minutes: object transfers range from tiny inline outputs to gigabytes. */
const TRANSFER_BUCKETS_SECONDS = [0.001, 0.005, 0.025, 0.1, 0.5, 2, 10, 30, 120];
/** From 10 ms to 6 hours (the longest RequestTTLSeconds default): time waiting in the queue, and end to end. */
const BACKLOG_BUCKETS_SECONDS = [0.01, 0.05, 0.25, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600];
/** From 1 ms to 15 minutes, the default InvocationTimeoutSeconds (900 s); longer calls land in +Inf. */
const MODEL_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 450, 900];

/** What the queue gauges are computed from at each scrape; main.ts wires the runner and the queue. */
export interface BacklogSource {
  /** The endpoints to report, with what the runner knows of their instances. */
  endpoints(): Promise<readonly { name: string; variant: string; instances: { starting: number; ready: number; draining: number }; desiredInstances: number }[]>;
  backlog(endpointName: string): Promise<{ queued: number; running: number; oldestQueuedReceivedAtMs?: number }>;
  now?: () => number;
}

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'asyncinfer_' });
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ENDPOINT_LABELS, registers: [registry] });
  const histogram = (name: string, help: string, buckets = TRANSFER_BUCKETS_SECONDS) =>
    new Histogram({ name, help, labelNames: ENDPOINT_LABELS, buckets, registers: [registry] });

  // The scrape-time gauges: every gauge's collect() shares one snapshot per scrape (prom-client
  // collects all metrics concurrently), so the queue is asked once per endpoint, not once per gauge.
  let source: BacklogSource | undefined;
  let pending: Promise<Snapshot[]> | undefined;
  const snapshot = (): Promise<Snapshot[]> => {
    pending ??= takeSnapshot().finally(() => { pending = undefined; });
    return pending;
  };
  async function takeSnapshot(): Promise<Snapshot[]> {
    if (!source) return [];
    const s = source;
    const now = (s.now ?? Date.now)();
    return Promise.all((await s.endpoints()).map(async (e) => {
      const b = await s.backlog(e.name);
      const size = b.queued + b.running;
      return {
        labels: { endpoint: e.name, variant: e.variant },
        size,
        perInstance: size / Math.max(e.instances.ready, 1),
        ageSeconds: b.oldestQueuedReceivedAtMs === undefined ? 0 : Math.max(0, now - b.oldestQueuedReceivedAtMs) / 1000,
        withoutCapacity: b.queued > 0 && e.instances.ready === 0 ? 1 : 0,
        instances: e.instances,
        desiredInstances: e.desiredInstances,
      };
    }));
  }
  const gauge = (name: string, help: string, set: (g: Gauge<string>, s: Snapshot) => void, extraLabels: string[] = []) =>
    new Gauge({
      name, help, labelNames: [...ENDPOINT_LABELS, ...extraLabels], registers: [registry],
      async collect() {
        const snapshots = await snapshot();
        // Reset first: an endpoint deleted since the last scrape must disappear, not freeze.
        this.reset();
        for (const s of snapshots) set(this, s);
      },
    });

  return {
    registry,
    /** Where the queue gauges read from; until set they have no samples. */
    setBacklogSource(s: BacklogSource) {
      source = s;
    },
    /** InvocationsProcessed: completed or failed outcomes (failures included). */
    invocationsProcessed: counter('asyncinfer_invocations_processed_total', 'Invocations that reached an outcome, completed or failed (SageMaker InvocationsProcessed).'),
    /** InvocationFailures */
    invocationFailures: counter('asyncinfer_invocation_failures_total', 'Invocations whose outcome is failed, for any reason (SageMaker InvocationFailures).'),
    /** ExpiredRequests */
    expiredRequests: counter('asyncinfer_expired_requests_total', 'Invocations whose RequestTTLSeconds ran out while queued (SageMaker ExpiredRequests).'),
    /** Invocation4XXErrors */
    invocation4xxErrors: counter('asyncinfer_invocation_4xx_errors_total', 'Model answers with a 4xx status (SageMaker Invocation4XXErrors).'),
    /** Invocation5XXErrors */
    invocation5xxErrors: counter('asyncinfer_invocation_5xx_errors_total', 'Model answers with a 5xx status (SageMaker Invocation5XXErrors).'),
    /** RequestDownloadFailures */
    requestDownloadFailures: counter('asyncinfer_request_download_failures_total', 'Invocations failed because their input could not be read (SageMaker RequestDownloadFailures).'),
    /** ResponseUploadFailures */
    responseUploadFailures: counter('asyncinfer_response_upload_failures_total', 'Invocations whose output could not be written after every retry (SageMaker ResponseUploadFailures).'),
    /** NotificationFailures */
    notificationFailures: counter('asyncinfer_notification_failures_total', 'Notifications given up after every retry, kept for replay (SageMaker NotificationFailures).'),
    /** RequestDownloadLatency */
    requestDownloadLatency: histogram('asyncinfer_request_download_latency_seconds', 'Time to open the input of an InputLocation invocation (SageMaker RequestDownloadLatency).'),
    /** ResponseUploadLatency */
    responseUploadLatency: histogram('asyncinfer_response_upload_latency_seconds', 'Time to write the output object, retries included (SageMaker ResponseUploadLatency).'),
    /** TimeInBacklog */
    timeInBacklog: histogram('asyncinfer_time_in_backlog_seconds', 'From acceptance to the lease that starts processing (SageMaker TimeInBacklog).', BACKLOG_BUCKETS_SECONDS),
    /** TotalProcessingTime (without the notification) */
    totalProcessingTime: histogram('asyncinfer_total_processing_time_seconds', 'From acceptance to the recorded outcome (SageMaker TotalProcessingTime, without the notification).', BACKLOG_BUCKETS_SECONDS),
    /** ModelLatency */
    modelLatency: histogram('asyncinfer_model_latency_seconds', 'POST /invocations, from sending the request to the end of the response, any status (SageMaker ModelLatency).', MODEL_BUCKETS_SECONDS),
    approximateBacklogSize: gauge('asyncinfer_approximate_backlog_size', 'Queued plus in-flight invocations of the endpoint (SageMaker ApproximateBacklogSize).',
      (g, s) => g.set(s.labels, s.size)),
    approximateBacklogSizePerInstance: gauge('asyncinfer_approximate_backlog_size_per_instance', 'Backlog divided by ready instances, at least 1 (SageMaker ApproximateBacklogSizePerInstance).',
      (g, s) => g.set(s.labels, s.perInstance)),
    approximateAgeOfOldestRequest: gauge('asyncinfer_approximate_age_of_oldest_request_seconds', 'Time since the oldest queued invocation was accepted; 0 when none is queued (SageMaker ApproximateAgeOfOldestRequest).',
      (g, s) => g.set(s.labels, s.ageSeconds)),
    hasBacklogWithoutCapacity: gauge('asyncinfer_has_backlog_without_capacity', '1 when invocations are queued and no instance is ready (SageMaker HasBacklogWithoutCapacity).',
      (g, s) => g.set(s.labels, s.withoutCapacity)),
    instances: gauge('asyncinfer_instances', 'Model instances of the endpoint by state: starting, ready, draining.', (g, s) => {
      for (const state of ['starting', 'ready', 'draining'] as const) g.set({ ...s.labels, state }, s.instances[state]);
    }, ['state']),
    desiredInstances: gauge('asyncinfer_desired_instances', 'The instance count wanted now (autoscaler or pin).',
      (g, s) => g.set(s.labels, s.desiredInstances)),
    /** Changes of the desired count made by the autoscaler, by the policy's reason. */
    scalingEvents: new Counter({
      name: 'asyncinfer_scaling_events_total', help: 'Changes of the desired instance count made by the autoscaler, by reason (scale-out, scale-in, to-zero, wake-from-zero, ...).',
      labelNames: [...ENDPOINT_LABELS, 'reason'], registers: [registry],
    }),
    /** Instances lost (exited, unhealthy, never ready) and started again to keep the desired count. */
    instanceReplacements: new Counter({
      name: 'asyncinfer_instance_replacements_total', help: 'Model instances replaced to keep the desired count, by cause (exited, unhealthy, startup-timeout).',
      labelNames: [...ENDPOINT_LABELS, 'cause'], registers: [registry],
    }),
  };
}

interface Snapshot {
  labels: { endpoint: string; variant: string };
  size: number;
  perInstance: number;
  ageSeconds: number;
  withoutCapacity: number;
  instances: { starting: number; ready: number; draining: number };
  desiredInstances: number;
}
