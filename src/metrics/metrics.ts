/**
 * The one metrics registry; every metric name lives here. Series follow Prometheus naming
 * (`asyncinfer_*`, base units, `_total` for counters); docs/metrics.md maps each to its SageMaker
 * CloudWatch name. Per-invocation series carry the `endpoint` and `variant` labels, as SageMaker's
 * EndpointName and VariantName dimensions.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const ENDPOINT_LABELS = ['endpoint', 'variant'] as const;
/** From 1 ms to about 2 minutes: object transfers range from tiny inline outputs to gigabytes. */
const TRANSFER_BUCKETS_SECONDS = [0.001, 0.005, 0.025, 0.1, 0.5, 2, 10, 30, 120];

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'asyncinfer_' });
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ENDPOINT_LABELS, registers: [registry] });
  const histogram = (name: string, help: string) =>
    new Histogram({ name, help, labelNames: ENDPOINT_LABELS, buckets: TRANSFER_BUCKETS_SECONDS, registers: [registry] });
  return {
    registry,
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
  };
}
