// How an enrollment rate limit reads in the portal: the limit in force and the policy it comes from (SPEC §5).
import type { EnrollRate } from "@/lib/data/enrollment/policy.ts";

const SOURCE: Record<EnrollRate["source"], string> = {
  certificate: "this certificate's policy",
  customer: "customer-wide policy",
  server: "server default",
};

/** "600/min (server default)", "no limit (customer-wide policy)". */
export function enrollRateText(rate: EnrollRate): string {
  return `${rate.perMinute === 0 ? "no limit" : `${rate.perMinute.toLocaleString("en")}/min`} (${SOURCE[rate.source]})`;
}
