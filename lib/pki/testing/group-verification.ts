// Test-only helper: the verification certificate an enrollment group registration needs (proof that the
// registrant holds the maker CA's key): a leaf signed by the CA whose subject CN is the customer's code.
import { registrationCode } from "../../data/enrollment/manage-policy.ts";
import { type IssueOptions, issueLeaf, type TestCert } from "./ca-fixture.ts";

/** A verification certificate for registering `ca` as `customerId`'s group; `extra` crafts a broken one. */
export async function groupVerification(ca: TestCert, customerId: string, extra: Partial<IssueOptions> = {}): Promise<string> {
  const cert = await issueLeaf(ca, { subject: `CN=${registrationCode(customerId)}`, san: {}, eku: undefined, ...extra });
  return cert.pem;
}
