/** A single stacked SVG bar showing a share (e.g. devices rotated within 30 days vs overdue). */
export function ShareBar({
  title,
  good,
  bad,
  goodLabel,
  badLabel,
}: {
  title: string;
  good: number;
  bad: number;
  goodLabel: string;
  badLabel: string;
}) {
  const total = good + bad;
  const pct = total ? Math.round((good / total) * 100) : 100;
  const gw = total ? (good / total) * 100 : 100;
  return (
    <figure>
      <p className="mb-2 text-3xl font-semibold tabular-nums" data-testid="compliance-pct">
        {pct}%
      </p>
      <svg
        viewBox="0 0 100 8"
        preserveAspectRatio="none"
        role="img"
        aria-label={`${title}: ${pct}% (${good} of ${total})`}
        className="h-4 w-full"
      >
        <title>{title}</title>
        <rect x="0" y="0" width={gw} height="8" className="fill-green-600 dark:fill-green-500" />
        <rect x={gw} y="0" width={100 - gw} height="8" className="fill-amber-500 dark:fill-amber-400" />
      </svg>
      <figcaption className="mt-2 flex gap-4 text-sm">
        <span>
          <span aria-hidden="true" className="mr-1 inline-block h-3 w-3 rounded-sm bg-green-600 dark:bg-green-500" />
          {goodLabel}: {good}
        </span>
        <span>
          <span aria-hidden="true" className="mr-1 inline-block h-3 w-3 rounded-sm bg-amber-500 dark:bg-amber-400" />
          {badLabel}: {bad}
        </span>
      </figcaption>
    </figure>
  );
}
