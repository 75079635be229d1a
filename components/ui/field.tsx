import { type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes, useId } from "react";

const CONTROL =
  "mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 shadow-sm focus:border-blue-600 focus:outline-none focus:ring-1 focus:ring-blue-600 dark:border-slate-700 dark:bg-slate-950";

type Labelled = { label: string; error?: string; hint?: string };
type ControlProps = { id: string; className: string; "aria-invalid"?: true; "aria-describedby"?: string };

/**
 * The one shape of every form control: label, the control, an optional hint, and the error line — always
 * present so screen readers announce it when it fills in.
 */
function Labelled({
  label,
  error,
  hint,
  text = "text-sm",
  control,
}: Labelled & { text?: string; control: (p: ControlProps) => ReactNode }) {
  const id = useId();
  const describedBy = [error ? `${id}-error` : "", hint ? `${id}-hint` : ""].filter(Boolean).join(" ");
  return (
    <div>
      <label htmlFor={id} className="block text-sm font-medium">
        {label}
      </label>
      {control({
        id,
        className: `${CONTROL} ${text}`,
        ...(error ? { "aria-invalid": true as const } : {}),
        ...(describedBy ? { "aria-describedby": describedBy } : {}),
      })}
      {hint && (
        <p id={`${id}-hint`} className="mt-1 text-xs text-slate-600 dark:text-slate-400">
          {hint}
        </p>
      )}
      <p id={`${id}-error`} aria-live="polite" className="mt-1 min-h-0 text-sm text-red-700 empty:hidden dark:text-red-400">
        {error ?? ""}
      </p>
    </div>
  );
}

/** A labelled input with its error announced next to it. */
export function Field({ label, error, hint, ...props }: InputHTMLAttributes<HTMLInputElement> & Labelled) {
  return <Labelled label={label} error={error} hint={hint} control={(p) => <input {...props} {...p} />} />;
}

/** A labelled select with its error announced next to it. */
export function SelectField({
  label,
  error,
  hint,
  options,
  ...props
}: SelectHTMLAttributes<HTMLSelectElement> & Labelled & { options: { value: string; label: string }[] }) {
  return (
    <Labelled
      label={label}
      error={error}
      hint={hint}
      control={(p) => (
        <select {...props} {...p}>
          {options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    />
  );
}

/** A labelled textarea (monospace: keys, CSRs, PEM) with its hint and error. */
export function TextArea({ label, error, hint, ...props }: TextareaHTMLAttributes<HTMLTextAreaElement> & Labelled) {
  return <Labelled label={label} error={error} hint={hint} text="font-mono text-xs" control={(p) => <textarea {...props} {...p} />} />;
}

/** A choice between a few modes (radio buttons in a fieldset with its legend), controlled by the form. */
export function RadioGroup<V extends string>({
  legend,
  name,
  options,
  value,
  onChange,
}: {
  legend: string;
  name: string;
  options: readonly (readonly [V, string])[];
  value: V;
  onChange: (v: V) => void;
}) {
  return (
    <fieldset className="space-y-2">
      <legend className="text-sm font-medium">{legend}</legend>
      {options.map(([v, label]) => (
        <label key={v} className="flex items-center gap-2 text-sm">
          <input type="radio" name={name} value={v} checked={value === v} onChange={() => onChange(v)} />
          {label}
        </label>
      ))}
    </fieldset>
  );
}
