import Link from "next/link";

export default function Forbidden() {
  return (
    <main className="mx-auto max-w-lg p-10 text-center">
      <h1 className="text-2xl font-semibold">403 — Not allowed</h1>
      <p className="mt-3 text-slate-600 dark:text-slate-400">Your role does not give access to this page.</p>
      <Link href="/" className="mt-6 inline-block text-blue-700 underline dark:text-blue-400">
        Back to the overview
      </Link>
    </main>
  );
}
