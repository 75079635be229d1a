"use server";

import { revalidatePath } from "next/cache";
import { type ActionState, failed, formValues, invalid } from "@/lib/actions/action-state.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { issuePortalBootstrapCertificate } from "@/lib/data/certificates/issue-bootstrap-certificate.ts";
import { releaseBootstrap } from "@/lib/data/enrollment/manage-policy.ts";
import { revokeBootstrapCertificate } from "@/lib/data/revocation/revoke-bootstrap-certificate.ts";
import { portalCaller } from "@/lib/data/users/portal-caller.ts";
import {
  CSR_MAX_BYTES,
  releaseBootstrapFormSchema,
  requestBootstrapFormSchema,
  revokeBootstrapFormSchema,
} from "@/lib/validations/bootstrap.ts";

export type IssuedBootstrap = { serial: string; certificate: string; chain: string[] };

/** The CSR text: the uploaded file's (upload mode) or the one the browser built (generate mode). */
async function csrOf(form: FormData, values: Record<string, string>): Promise<string> {
  const file = form.get("csrFile");
  if (values.mode === "upload" && file instanceof File && file.size > 0) {
    if (file.size > CSR_MAX_BYTES * 2) return "x".repeat(CSR_MAX_BYTES + 1); // refused by the schema, unread
    return file.text();
  }
  return values.csr ?? "";
}

/**
 * A customer admin requests a bootstrapping certificate for themself (their UID in the SAN) from a CSR, with
 * an optional enrollment policy for it, stored in the same transaction as the certificate (the customer API's
 * path). The customer and UID come from the database, never from the form.
 */
export async function requestBootstrapAction(_prev: ActionState<IssuedBootstrap>, form: FormData): Promise<ActionState<IssuedBootstrap>> {
  const user = await requireRole("CUSTOMER_ADMIN");
  try {
    const values = formValues(form);
    const parsed = requestBootstrapFormSchema.safeParse({ ...values, csr: await csrOf(form, values) });
    const keep = {
      maxEnrollments: values.maxEnrollments ?? "",
      enrollRatePerMinute: values.enrollRatePerMinute ?? "",
      enrollUntil: values.enrollUntil ?? "",
      expectedDeviceIds: values.expectedDeviceIds ?? "",
    };
    if (!parsed.success) return invalid(parsed.error, keep);
    const caller = await portalCaller(user);
    const { csr, maxEnrollments, enrollUntil, expectedDeviceIds, enrollRatePerMinute } = parsed.data;
    const issued = await issuePortalBootstrapCertificate({
      caller,
      csr,
      policy: {
        ...(maxEnrollments !== undefined ? { maxEnrollments } : {}),
        ...(enrollRatePerMinute != null ? { enrollRatePerMinute } : {}),
        ...(enrollUntil !== undefined ? { enrollUntil } : {}),
        ...(expectedDeviceIds.length ? { expectedDeviceIds } : {}),
      },
    });
    revalidatePath("/bootstrap");
    return {
      status: "ok",
      data: { serial: issued.serialHex, certificate: issued.pem, chain: issued.chainPem },
      message: `Bootstrapping certificate ${issued.serialHex} issued.`,
    };
  } catch (e) {
    return failed(e, "bootstrap.request");
  }
}

/** A customer admin lifts the quarantine of one of their customer's bootstrapping certificates. */
export async function releaseBootstrapAction(
  _prev: ActionState<{ serial: string }>,
  form: FormData,
): Promise<ActionState<{ serial: string }>> {
  const user = await requireRole("CUSTOMER_ADMIN");
  try {
    const parsed = releaseBootstrapFormSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const caller = await portalCaller(user);
    const r = await releaseBootstrap(caller.customerId, parsed.data.serial, caller.actor);
    revalidatePath("/bootstrap");
    return { status: "ok", data: { serial: r.serial }, message: "Quarantine released." };
  } catch (e) {
    return failed(e, "bootstrap.release");
  }
}

export type RevokedBootstrap = { serial: string; devicesRevoked: number };

/**
 * A customer admin revokes one of their customer's bootstrapping certificates (a leaked key), optionally with
 * the Client TLS and application certificates of the devices it enrolled at or after a time; on an already revoked
 * one, only the devices. Another customer's serial: 404.
 */
export async function revokeBootstrapAction(_prev: ActionState<RevokedBootstrap>, form: FormData): Promise<ActionState<RevokedBootstrap>> {
  const user = await requireRole("CUSTOMER_ADMIN");
  try {
    const values = formValues(form);
    const parsed = revokeBootstrapFormSchema.safeParse(values);
    if (!parsed.success) return invalid(parsed.error, { enrolledAfter: values.enrolledAfter ?? "" });
    const caller = await portalCaller(user);
    const { serial, reason, alsoRevokeDevices, enrolledAfter } = parsed.data;
    const r = await revokeBootstrapCertificate({
      serial,
      reason,
      ...(alsoRevokeDevices && enrolledAfter ? { alsoRevokeDevicesEnrolledAfter: enrolledAfter } : {}),
      customerId: caller.customerId,
      actor: caller.actor,
    });
    revalidatePath("/bootstrap");
    revalidatePath("/devices", "layout");
    const devices = r.revokedClientTlsSerials.length;
    const apps = r.revokedApplicationSerials.length;
    const appNote = apps ? `, with ${apps} application ${apps === 1 ? "certificate" : "certificates"}` : "";
    return {
      status: "ok",
      data: { serial: r.serial, devicesRevoked: devices },
      message: `${r.alreadyRevoked ? "Already revoked" : "Revoked"}; ${devices} device ${devices === 1 ? "certificate" : "certificates"} revoked${appNote}.`,
    };
  } catch (e) {
    return failed(e, "bootstrap.revoke");
  }
}
