// Prometheus metrics, one registry per process (shared by the custom server and the Next.js bundle).
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from "prom-client";

function create() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "pss_" });
  return {
    registry,
    httpRequests: new Counter({
      name: "pss_http_requests_total",
      help: "HTTP requests served",
      labelNames: ["listener", "status"],
      registers: [registry],
    }),
    certificatesIssued: new Counter({
      name: "pss_certificates_issued_total",
      help: "Certificates issued",
      labelNames: ["profile"],
      registers: [registry],
    }),
    refusals: new Counter({
      name: "pss_refusals_total",
      help: "Requests refused, by error code",
      labelNames: ["code"],
      registers: [registry],
    }),
    issueSeconds: new Histogram({
      name: "pss_issue_seconds",
      help: "Issuance latency",
      labelNames: ["profile"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
  };
}

const g = globalThis as unknown as { __pssMetrics?: ReturnType<typeof create> };
g.__pssMetrics ??= create();
export const metrics = g.__pssMetrics;

/** One process's metrics as data, named, to be sent to the process that serves /metrics. */
export type ProcessMetrics = { process: string; metrics: MetricObjectWithValues<MetricValue<string>>[] };

/** This process's metrics as data. */
export async function processMetrics(process: string): Promise<ProcessMetrics> {
  return { process, metrics: (await metrics.registry.getMetricsAsJSON()) as ProcessMetrics["metrics"] };
}

/**
 * The /metrics text: this process's metrics and those of its device workers (`others`), each series labelled with
 * its process ("main", "worker-<n>"), so a worker left out of one scrape (slow, restarted) never looks like a counter
 * going down; sum by the other labels for the product's totals.
 */
export async function exposition(others: ProcessMetrics[] = []): Promise<string> {
  if (!others.length) return metrics.registry.metrics();
  const labelled = [await processMetrics("main"), ...others].map(({ process, metrics: list }) =>
    list.map((m) => ({ ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, process } })) })),
  );
  return AggregatorRegistry.aggregate(labelled).metrics();
}
