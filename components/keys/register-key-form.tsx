"use client";

import { type FormEvent, startTransition, useActionState, useState } from "react";
import { registerSigningKeyAction } from "@/app/(portal)/keys/actions.ts";
import { Button } from "@/components/ui/button.tsx";
import { Field, RadioGroup, TextArea } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import { useHydrated } from "@/components/ui/use-hydrated.ts";
import type { ActionState } from "@/lib/actions/action-state.ts";
import { downloadText, generateP256, privateKeyPem, proofOfPossession } from "@/lib/browser/webcrypto.ts";

const initial: ActionState<{ kid: string }> = { status: "idle" };

/**
 * Register a payload-signing key: generate it here with WebCrypto (the private key is only ever offered as a
 * download) or paste a public key with a proof-of-possession JWS made elsewhere. Either way the admin's
 * password confirms the registration.
 */
export function RegisterKeyForm() {
  const [state, action, pending] = useActionState(registerSigningKeyAction, initial);
  const [mode, setMode] = useState<"generate" | "paste">("generate");
  const [privatePem, setPrivatePem] = useState<string | null>(null);
  const [clientError, setClientError] = useState<string | null>(null);
  // the key is generated in the browser on submit: nothing to do before hydration
  const hydrated = useHydrated();
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  const values = state.status === "invalid" ? (state.values ?? {}) : {};

  async function onSubmit(e: FormEvent<HTMLFormElement>) {
    if (mode !== "generate") return; // paste: the form posts as is
    e.preventDefault();
    setClientError(null);
    const form = new FormData(e.currentTarget);
    try {
      const key = await generateP256();
      form.set("jws", await proofOfPossession(key));
      setPrivatePem(await privateKeyPem(key.keyPair.privateKey));
    } catch {
      setClientError("This browser could not generate a P-256 key (WebCrypto is needed).");
      return;
    }
    startTransition(() => action(form));
  }

  const message = clientError ?? (state.status === "error" ? state.message : state.status === "ok" ? (state.message ?? null) : null);
  return (
    <form action={action} onSubmit={onSubmit} className="max-w-2xl space-y-4" aria-label="Register a payload-signing key" noValidate>
      <RadioGroup
        legend="How"
        name="mode"
        options={
          [
            ["generate", "Generate in browser (ES256; the private key never leaves this browser)"],
            ["paste", "Paste a public key and its proof of possession"],
          ] as const
        }
        value={mode}
        onChange={setMode}
      />
      {mode === "paste" && (
        <>
          <TextArea
            label="Public key (JWK or PEM)"
            name="jwk"
            rows={4}
            defaultValue={values.jwk}
            error={errors.jwk?.[0]}
            hint='e.g. {"kty":"EC","crv":"P-256","x":"…","y":"…"}'
          />
          <TextArea
            label="Proof of possession (JWS)"
            name="jws"
            rows={4}
            defaultValue={values.jws}
            error={errors.jws?.[0]}
            hint="Signed by that key: its public JWK in the protected header, payload {nonce, iat}."
          />
        </>
      )}
      <Field
        label="Your password"
        name="password"
        type="password"
        autoComplete="current-password"
        required
        hint="Re-authentication: confirms that you, not only your session, add this key."
        error={errors.password?.[0]}
      />
      <FormMessage tone={state.status === "ok" && !clientError ? "success" : "error"} message={message} />
      {state.status === "ok" && privatePem && mode === "generate" && (
        <div className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-200">
          <p className="mb-2">Download the private key now: it exists only in this browser tab and is not stored anywhere.</p>
          <Button type="button" variant="secondary" onClick={() => downloadText(`payload-key-${state.data.kid}.pem`, privatePem)}>
            Download private key (PEM)
          </Button>
        </div>
      )}
      <Button type="submit" disabled={pending || !hydrated}>
        {pending ? "Registering…" : mode === "generate" ? "Generate and register key" : "Register key"}
      </Button>
    </form>
  );
}
