-- An enrollment group's budget counts the Client TLS certificates the group authorized (lib/data/enrollment/
-- policy.ts groupEnrollments). Without this index that count read every Client TLS certificate of the customer,
-- under the group's lock, on every budgeted group enrollment. Partial: only group enrollments are indexed, so no
-- other issuance pays for it. The count repeats the predicate word for word, so the planner can use the index
-- under any plan, generic ones included. Prisma cannot express a partial index (see schema.prisma).
CREATE INDEX "Certificate_group_enrollments_idx" ON "Certificate" ("authorizedBy")
  WHERE "kind" = 'CLIENT_TLS' AND "authorizedBy" LIKE 'group:%';
