import Link from "next/link";

const LINK = "text-blue-700 underline dark:text-blue-400";

/** Previous / next links of an offset-paged list whose page number lives in the URL. */
export function Pager({
  label,
  page,
  pages,
  total,
  href,
}: {
  label: string;
  page: number;
  pages: number;
  total: number;
  href: (page: number) => string;
}) {
  if (pages <= 1 && page <= 1) return null;
  return (
    <nav aria-label={`${label} pages`} className="mt-3 flex items-center gap-4 text-sm">
      {page > 1 ? (
        <Link href={href(Math.min(page - 1, pages))} className={LINK} rel="prev">
          Previous page
        </Link>
      ) : (
        <span aria-hidden="true" className="text-slate-400">
          Previous page
        </span>
      )}
      <span className="tabular-nums">
        Page {page.toLocaleString("en")} of {pages.toLocaleString("en")} ({total.toLocaleString("en")} in all)
      </span>
      {page < pages ? (
        <Link href={href(page + 1)} className={LINK} rel="next">
          Next page
        </Link>
      ) : (
        <span aria-hidden="true" className="text-slate-400">
          Next page
        </span>
      )}
    </nav>
  );
}
