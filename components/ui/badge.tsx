const TONES = {
  green: "bg-green-100 text-green-800 dark:bg-green-900/40 dark:text-green-300",
  red: "bg-red-100 text-red-800 dark:bg-red-900/40 dark:text-red-300",
  amber: "bg-amber-100 text-amber-900 dark:bg-amber-900/40 dark:text-amber-300",
  slate: "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
} as const;

const STATUS_TONE: Record<string, keyof typeof TONES> = {
  active: "green",
  revoked: "red",
  expired: "amber",
  retired: "slate",
  decommissioned: "slate",
  overdue: "amber",
  success: "green",
  refused: "red",
  failure: "red",
};

/** A small status pill; the tone follows the status name. */
export function Badge({ children, tone }: { children: string; tone?: keyof typeof TONES }) {
  const t = tone ?? STATUS_TONE[children.toLowerCase()] ?? "slate";
  return <span className={`inline-block rounded-full px-2 py-0.5 text-xs font-medium ${TONES[t]}`}>{children.toLowerCase()}</span>;
}
