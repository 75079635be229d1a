/** A small SVG bar chart (no chart library): one bar per point, with a screen-reader table of the values. */
export function BarChart({ title, points, unit }: { title: string; points: { label: string; value: number }[]; unit: string }) {
  const W = 600;
  const H = 160;
  const max = Math.max(1, ...points.map((p) => p.value));
  const maxLabel = max.toLocaleString("en-US");
  // the y-axis label sits left of the axis: room for it at ~6 px per character of a 10 px font
  const pad = { top: 10, right: 8, bottom: 24, left: Math.max(32, 8 + maxLabel.length * 6) };
  const bw = (W - pad.left - pad.right) / Math.max(1, points.length);
  const y = (v: number) => pad.top + (H - pad.top - pad.bottom) * (1 - v / max);
  const total = points.reduce((s, p) => s + p.value, 0);
  return (
    <figure>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: ${total} ${unit} in total`} className="h-auto w-full text-slate-500">
        <title>{title}</title>
        <line x1={pad.left} x2={W - pad.right} y1={y(0)} y2={y(0)} stroke="currentColor" strokeWidth="1" />
        <text x={pad.left - 4} y={y(max) + 4} textAnchor="end" className="fill-current text-[10px]">
          {maxLabel}
        </text>
        <text x={pad.left - 4} y={y(0)} textAnchor="end" className="fill-current text-[10px]">
          0
        </text>
        {points.map((p, i) => (
          <rect
            key={p.label}
            x={pad.left + i * bw + 1}
            y={y(p.value)}
            width={Math.max(1, bw - 2)}
            height={y(0) - y(p.value)}
            className="fill-blue-600 dark:fill-blue-400"
          >
            <title>{`${p.label}: ${p.value}`}</title>
          </rect>
        ))}
        {points.length > 0 && (
          <>
            <text x={pad.left} y={H - 6} className="fill-current text-[10px]">
              {points[0].label}
            </text>
            <text x={W - pad.right} y={H - 6} textAnchor="end" className="fill-current text-[10px]">
              {points.at(-1)?.label}
            </text>
          </>
        )}
      </svg>
      <figcaption className="sr-only">
        <table>
          <caption>{title}</caption>
          <tbody>
            {points.map((p) => (
              <tr key={p.label}>
                <th scope="row">{p.label}</th>
                <td>{p.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </figcaption>
    </figure>
  );
}
