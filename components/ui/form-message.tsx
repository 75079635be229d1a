/** The form-level message (non-field errors), announced politely. */
export function FormMessage({ message, tone = "error" }: { message?: string | null; tone?: "error" | "success" }) {
  const color = tone === "error" ? "text-red-700 dark:text-red-400" : "text-green-700 dark:text-green-400";
  return (
    <p role={tone === "error" ? "alert" : "status"} aria-live="polite" className={`min-h-5 text-sm ${color}`}>
      {message ?? ""}
    </p>
  );
}
