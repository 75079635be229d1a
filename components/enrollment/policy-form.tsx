"use client";

import { type FormEvent, useActionState, useId, useRef, useState } from "react";
import { type PolicySaved, setPolicyAction } from "@/app/(portal)/enrollment/actions.ts";
import { enrollRateText } from "@/components/enrollment/enroll-rate.ts";
import { Button } from "@/components/ui/button.tsx";
import { Field } from "@/components/ui/field.tsx";
import { FormMessage } from "@/components/ui/form-message.tsx";
import type { ActionState } from "@/lib/actions/action-state.ts";
import type { EnrollRate } from "@/lib/data/enrollment/policy.ts";

const initial: ActionState<PolicySaved> = { status: "idle" };

export type CurrentPolicy = {
  allow: { count: number; preview: string[] };
  deny: { count: number; preview: string[] };
  maxEnrollments: number | null;
  enrollUntil: Date | null;
  requireDeviceSecret: boolean;
  /** this policy's own rate limit (null: inherit) and the one in force */
  enrollRatePerMinute: number | null;
  enrollRate: EnrollRate;
};

/**
 * An enrollment policy (SPEC §5): the customer-wide one, or with `bootstrapSerial` that bootstrapping certificate's
 * own — allow- and deny-list from a CSV file or pasted, budget, secrets, rate limit.
 */
export function PolicyForm({
  current,
  maxListBytes,
  bootstrapSerial,
}: {
  current: CurrentPolicy;
  maxListBytes: number;
  bootstrapSerial?: string;
}) {
  const [state, action, pending] = useActionState(setPolicyAction, initial);
  const [tooBig, setTooBig] = useState<Record<string, string>>({});
  const errors = state.status === "invalid" ? state.fieldErrors : {};
  const values = state.status === "invalid" ? (state.values ?? {}) : {};

  // a server action's body is capped: refuse an oversized file here rather than fail in transit
  function onSubmit(e: FormEvent<HTMLFormElement>) {
    const big: Record<string, string> = {};
    for (const name of ["allow", "deny"]) {
      const f = new FormData(e.currentTarget).get(`${name}File`);
      if (f instanceof File && f.size > maxListBytes)
        big[name] = `The file is larger than ${maxListBytes / 1024} KiB; use \`pss policy set\` or the customer API for bigger lists.`;
    }
    setTooBig(big);
    if (Object.keys(big).length) e.preventDefault();
  }

  const message = state.status === "error" ? state.message : state.status === "ok" ? (state.message ?? null) : null;
  return (
    <form
      action={action}
      onSubmit={onSubmit}
      className="max-w-2xl space-y-5"
      aria-label={bootstrapSerial ? `Enrollment policy of bootstrapping certificate ${bootstrapSerial}` : "Customer-wide enrollment policy"}
      noValidate
    >
      <input type="hidden" name="bootstrapSerial" value={bootstrapSerial ?? ""} />
      <ListField
        name="allow"
        title="Allow-list (expected device ids)"
        current={current.allow}
        emptyMeaning="any device id may enroll"
        clearLabel="Clear the allow-list (any device id may enroll)"
        mode={values.allowMode}
        text={values.allowText}
        error={tooBig.allow ?? errors.allow?.[0] ?? errors.allowMode?.[0]}
      />
      <ListField
        name="deny"
        title="Deny-list (refused device ids)"
        current={current.deny}
        emptyMeaning="none"
        clearLabel="Clear the deny-list"
        mode={values.denyMode}
        text={values.denyText}
        error={tooBig.deny ?? errors.deny?.[0] ?? errors.denyMode?.[0]}
      />
      <fieldset className="space-y-3 rounded-md border border-slate-200 p-3 dark:border-slate-800">
        <legend className="px-1 text-sm font-medium">
          {bootstrapSerial
            ? "Enrollment budget of this certificate (wins over the customer default)"
            : "Enrollment budget (default of every bootstrapping certificate)"}
        </legend>
        <Field
          label={bootstrapSerial ? "Maximum enrollments with this certificate" : "Maximum enrollments per bootstrapping certificate"}
          name="maxEnrollments"
          inputMode="numeric"
          defaultValue={values.maxEnrollments ?? (current.maxEnrollments === null ? "" : String(current.maxEnrollments))}
          error={errors.maxEnrollments?.[0]}
          hint="Empty: no limit. A certificate that would exceed it is quarantined until you release or revoke it. A certificate's own budget wins."
        />
        <Field
          label="Enroll until (UTC)"
          name="enrollUntil"
          type="datetime-local"
          defaultValue={values.enrollUntil ?? (current.enrollUntil ? current.enrollUntil.toISOString().slice(0, 16) : "")}
          error={errors.enrollUntil?.[0]}
          hint="Empty: no end."
        />
      </fieldset>
      <fieldset className="space-y-3 rounded-md border border-slate-200 p-3 dark:border-slate-800">
        <legend className="px-1 text-sm font-medium">Enrollment rate limit</legend>
        <p className="text-sm" data-testid="rate-effective">
          In force: {enrollRateText(current.enrollRate)}
        </p>
        <Field
          label={bootstrapSerial ? "Enrollment attempts per minute with this certificate" : "Enrollment attempts per minute per credential"}
          name="enrollRatePerMinute"
          inputMode="numeric"
          defaultValue={values.enrollRatePerMinute ?? (current.enrollRatePerMinute === null ? "" : String(current.enrollRatePerMinute))}
          error={errors.enrollRatePerMinute?.[0]}
          hint={
            bootstrapSerial
              ? "Over it, devices are refused (429) until the minute ends. Empty: inherit the customer-wide limit (else the server default). 0: no limit."
              : "Per bootstrapping certificate and per enrollment group; over it, devices are refused (429) until the minute ends. Empty: the server default. 0: no limit."
          }
        />
      </fieldset>
      <label className="flex items-start gap-2 text-sm">
        <input
          type="checkbox"
          name="requireDeviceSecret"
          value="on"
          defaultChecked={state.status === "invalid" ? values.requireDeviceSecret === "on" : current.requireDeviceSecret}
          className="mt-0.5 h-4 w-4"
        />
        <span>
          Require a one-time device secret
          <span className="block text-xs text-slate-600 dark:text-slate-400">
            Each device must present the secret registered for its id (CSR challengePassword); a device without one is refused.
          </span>
        </span>
      </label>
      <FormMessage tone={state.status === "ok" ? "success" : "error"} message={message} />
      <Button type="submit" disabled={pending}>
        {pending ? "Saving…" : "Save policy"}
      </Button>
    </form>
  );
}

/**
 * One device id list: keep it, replace it with an uploaded CSV (first column) or pasted ids, or clear it. Choosing
 * a file or typing selects "replace". The error (how many entries are bad, and the first of them) sits below.
 */
function ListField({
  name,
  title,
  current,
  emptyMeaning,
  clearLabel,
  mode,
  text,
  error,
}: {
  name: "allow" | "deny";
  title: string;
  current: { count: number; preview: string[] };
  emptyMeaning: string;
  clearLabel: string;
  mode?: string;
  text?: string;
  error?: string;
}) {
  const id = useId();
  const replace = useRef<HTMLInputElement>(null);
  const pickReplace = () => {
    if (replace.current) replace.current.checked = true;
  };
  const list = name === "allow" ? "allow-list" : "deny-list";
  return (
    <fieldset
      className="space-y-3 rounded-md border border-slate-200 p-3 dark:border-slate-800"
      aria-describedby={`${id}-current ${id}-error`}
      data-testid={`${name}-list`}
    >
      <legend className="px-1 text-sm font-medium">{title}</legend>
      <p id={`${id}-current`} className="text-sm" data-testid={`${name}-count`}>
        {current.count === 0
          ? `Empty: ${emptyMeaning}.`
          : `${current.count.toLocaleString("en")} device ${current.count === 1 ? "id" : "ids"}: ${current.preview.join(", ")}${current.count > current.preview.length ? ", …" : ""}`}
      </p>
      <div className="space-y-1 text-sm">
        <label className="flex items-center gap-2">
          <input type="radio" name={`${name}Mode`} value="keep" defaultChecked={(mode ?? "keep") === "keep"} />
          Keep the current {list}
        </label>
        <label className="flex items-center gap-2">
          <input ref={replace} type="radio" name={`${name}Mode`} value="replace" defaultChecked={mode === "replace"} />
          Replace the {list} with the file or text below
        </label>
        <label className="flex items-center gap-2">
          <input type="radio" name={`${name}Mode`} value="clear" defaultChecked={mode === "clear"} />
          {clearLabel}
        </label>
      </div>
      <Field
        label={`${title.split(" (")[0]}: CSV file`}
        name={`${name}File`}
        type="file"
        accept=".csv,.txt,text/csv,text/plain"
        onChange={pickReplace}
        hint="One device id per line, or the first column of a CSV; a header line such as “deviceId” is skipped."
      />
      <div>
        <label htmlFor={`${id}-text`} className="block text-sm font-medium">
          {`${title.split(" (")[0]}: or paste device ids`}
        </label>
        <textarea
          id={`${id}-text`}
          name={`${name}Text`}
          rows={4}
          defaultValue={text}
          onChange={pickReplace}
          {...(error ? { "aria-invalid": true } : {})}
          aria-describedby={`${id}-error`}
          className="mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 font-mono text-xs shadow-sm focus:border-blue-600 focus:outline-none focus:ring-1 focus:ring-blue-600 dark:border-slate-700 dark:bg-slate-950"
        />
      </div>
      <p
        id={`${id}-error`}
        aria-live="polite"
        className="text-sm text-red-700 empty:hidden dark:text-red-400"
        data-testid={`${name}-error`}
      >
        {error ?? ""}
      </p>
    </fieldset>
  );
}
