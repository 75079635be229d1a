import type { NewCredentials } from "@/app/(portal)/users/actions.ts";

/** Freshly created secrets, shown once. */
export function CredentialsNotice({ creds }: { creds: NewCredentials }) {
  const rows = [
    ["Sign-in email", creds.email],
    ["Password", creds.password],
    ["UID", creds.uid],
    ["API client id", creds.clientId],
    ["API client secret", creds.clientSecret],
  ].filter(([, v]) => v) as [string, string][];
  return (
    <div
      role="status"
      className="space-y-2 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-700 dark:bg-amber-950 dark:text-amber-200"
    >
      <p className="font-medium">{creds.label}</p>
      {creds.clientSecret || creds.password ? <p>Copy the secret now: it is shown only once.</p> : null}
      <dl className="space-y-1">
        {rows.map(([label, value]) => (
          <div key={label}>
            <dt className="font-medium">{label}</dt>
            <dd>
              <code className="break-all" data-testid={`new-${label}`}>
                {value}
              </code>
            </dd>
          </div>
        ))}
      </dl>
    </div>
  );
}
