"use client";

import { type FormEvent, startTransition, useActionState, useState } from "react";
import { type IssuedBootstrap, requestBootstrapAction } from "@/app/(portal)/bootstrap/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { Field, RadioGroup, TextArea } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import { useHydrated } from "@/components/ui/use-hydrated.ts";
import type { ActionState } from "@/lib/actions/action-state.ts";
import { buildCsrPem, downloadText, generateP256, privateKeyPem } from "@/lib/browser/webcrypto.ts";

const initial: ActionState<IssuedBootstrap> = { status: "idle" };

/**
 * Request a bootstrapping certificate from an uploaded CSR, or generate the key pair and CSR here with
 * WebCrypto: only the CSR is sent; the private key is offered as a download and then forgotten.
 */
export function RequestBootstrapForm() {
  const [state, action, pending] = useActionState(requestBootstrapAction, initial);
  const [mode, setMode] = useState<"upload" | "generate">("generate");
  const [privatePem, setPrivatePem] = useState<string | null>(null);
  const [clientError, setClientError] = useState<string | null>(null);
  // the key is generated in the browser on submit: nothing to do before hydration
  const hydrated = useHydrated();
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  const values = state.status === "invalid" ? (state.values ?? {}) : {};

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    setPrivatePem(null);
    if (mode !== "generate") return; // upload: the form posts the file as is
    e.preventDefault();
    setClientError(null);
    const form = new FormData(e.currentTarget);
    try {
      const key = await generateP256();
      form.set("csr", await buildCsrPem(key, "PSS bootstrapping key (browser)"));
      setPrivatePem(await privateKeyPem(key.keyPair.privateKey));
    } catch {
      setClientError("This browser could not generate a P-256 key (WebCrypto is needed).");
      return;
    }
    startTransition(() => action(form));
  }

  const message = clientError ?? (state.status === "error" ? state.message : state.status === "ok" ? (state.message ?? null) : null);
  return (
    <div className="space-y-6">
      <form action={action} onSubmit={onSubmit} className="max-w-2xl space-y-4" aria-label="Request a bootstrapping certificate" noValidate>
        <RadioGroup
          legend="Key pair"
          name="mode"
          options={
            [
              ["generate", "Generate in browser (P-256; the private key never leaves this browser)"],
              ["upload", "Upload a CSR (PEM)"],
            ] as const
          }
          value={mode}
          onChange={setMode}
        />
        {mode === "upload" && (
          <Field
            label="CSR file"
            name="csrFile"
            type="file"
            accept=".pem,.csr,.req,.txt"
            error={errors.csr?.[0]}
            hint="PKCS#10, PEM, at most 8 KiB."
          />
        )}
        {mode === "generate" && errors.csr?.[0] && <FormMessage message={errors.csr[0]} />}
        <fieldset className="space-y-3 rounded-md border border-slate-200 p-3 dark:border-slate-800">
          <legend className="px-1 text-sm font-medium">Enrollment policy (optional)</legend>
          <Field
            label="Maximum enrollments"
            name="maxEnrollments"
            inputMode="numeric"
            defaultValue={values.maxEnrollments}
            error={errors.maxEnrollments?.[0]}
            hint="Exceeding it quarantines the certificate until you release it."
          />
          <Field
            label="Enrollment attempts per minute"
            name="enrollRatePerMinute"
            inputMode="numeric"
            defaultValue={values.enrollRatePerMinute}
            error={errors.enrollRatePerMinute?.[0]}
            hint="Over it, devices are refused (429) until the minute ends. Empty: the customer-wide limit. 0: no limit."
          />
          <Field
            label="Enroll until (UTC)"
            name="enrollUntil"
            type="datetime-local"
            defaultValue={values.enrollUntil}
            error={errors.enrollUntil?.[0]}
          />
          <TextArea
            label="Expected device ids"
            name="expectedDeviceIds"
            rows={3}
            defaultValue={values.expectedDeviceIds}
            error={errors.expectedDeviceIds?.[0]}
            hint="Allow-list: one device id per line, or a CSV whose first column is the id. Empty: any device id."
          />
        </fieldset>
        <FormMessage tone={state.status === "ok" && !clientError ? "success" : "error"} message={message} />
        <Button type="submit" disabled={pending || !hydrated}>
          {pending ? "Requesting…" : mode === "generate" ? "Generate key and request certificate" : "Request certificate"}
        </Button>
      </form>
      {state.status === "ok" && <Downloads issued={state.data} privatePem={privatePem} />}
    </div>
  );
}

function Downloads({ issued, privatePem }: { issued: IssuedBootstrap; privatePem: string | null }) {
  const base = `bootstrap-${issued.serial}`;
  return (
    <section
      aria-labelledby="downloads"
      className="max-w-2xl space-y-3 rounded-md border border-amber-300 bg-amber-50 p-4 text-sm text-amber-950 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-100"
    >
      <h3 id="downloads" className="font-semibold">
        Certificate {issued.serial}
      </h3>
      {privatePem && <p>Download the private key now: it exists only in this browser tab and is not stored anywhere.</p>}
      <div className="flex flex-wrap gap-2">
        <Button type="button" variant="secondary" onClick={() => downloadText(`${base}.pem`, issued.certificate)}>
          Download certificate
        </Button>
        <Button type="button" variant="secondary" onClick={() => downloadText(`${base}-chain.pem`, issued.chain.join(""))}>
          Download chain
        </Button>
        {privatePem && (
          <Button type="button" variant="secondary" onClick={() => downloadText(`${base}.key`, privatePem)}>
            Download private key (PEM)
          </Button>
        )}
      </div>
    </section>
  );
}
