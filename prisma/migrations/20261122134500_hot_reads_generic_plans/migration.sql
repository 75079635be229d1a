-- The device API's hot statements as functions whose plans are made once per session and kept: a generic
-- plan (plan_cache_mode, set for the function's own statements only). Sent as plain statements, PostgreSQL
-- planned them on every execution — the authorizer's read cost 0.7 ms of planning on PostgreSQL and 1.6 ms on
-- the embedded PGlite, whose one thread serves every statement. Timestamps are returned as epoch milliseconds
-- (float8): pg and PGlite both parse `timestamp` text in the client process's local zone.

ALTER FUNCTION issue_batch SET plan_cache_mode = force_generic_plan;

-- The authorizer's read (lib/data/devices/authorize.ts), for many serials at once: the certificate row, its
-- device, the number of revoked CAs on its issuer's path (the root excluded) and, for a Client TLS
-- certificate, its oldest replacement.
CREATE FUNCTION device_auth_rows(p_serials TEXT[])
RETURNS TABLE (serial TEXT, id TEXT, kind TEXT, "customerId" TEXT, uid TEXT, "issuerId" TEXT, "deviceRef" TEXT,
  "spkiSha256" TEXT, "revokedAt" FLOAT8, "quarantinedAt" FLOAT8, "firstUsedAt" FLOAT8, "replacesId" TEXT,
  "deviceId" TEXT, "deviceStatus" TEXT, "revokedCas" INTEGER, "replFirstUsedAt" FLOAT8, "replCreatedAt" FLOAT8)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT c.serial::text, c.id::text, c.kind::text, c."customerId"::text, c.uid::text, c."issuerId"::text, c."deviceRef"::text,
         c."spkiSha256"::text, (extract(epoch from c."revokedAt") * 1000)::float8, (extract(epoch from c."quarantinedAt") * 1000)::float8,
         (extract(epoch from c."firstUsedAt") * 1000)::float8, c."replacesId"::text, d."deviceId"::text, d.status::text,
         (WITH RECURSIVE up AS (
            SELECT ca.id, ca."parentId", ca.status FROM "CertificateAuthority" ca WHERE ca.id = c."issuerId"
            UNION ALL
            SELECT ca.id, ca."parentId", ca.status FROM "CertificateAuthority" ca JOIN up ON ca.id = up."parentId")
          SELECT count(*) FROM up WHERE up.status = 'REVOKED' AND up."parentId" IS NOT NULL)::int,
         (extract(epoch from r."firstUsedAt") * 1000)::float8, (extract(epoch from r."createdAt") * 1000)::float8
  FROM "Certificate" c
  LEFT JOIN "Device" d ON d.id = c."deviceRef"
  LEFT JOIN LATERAL (
    SELECT x."firstUsedAt", x."createdAt" FROM "Certificate" x WHERE x."replacesId" = c.id ORDER BY x."createdAt" ASC LIMIT 1
  ) r ON c.kind = 'CLIENT_TLS'
  WHERE c.serial = ANY(p_serials);
END
$$;

-- What EST simpleenroll checks before signing (lib/data/enrollment/est-enroll.ts), for many enrollments at
-- once, in the order given (i): the policy rows that apply, whether the device exists, whether the key is
-- certified, the device's one-time secret.
CREATE FUNCTION enrollment_facts(p_customer UUID[], p_boot UUID[], p_device TEXT[], p_spki TEXT[])
RETURNS TABLE (i INTEGER, policies JSON, "deviceExists" BOOLEAN, "keyUsed" BOOLEAN, secret JSON)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT k.i::int,
    (SELECT coalesce(json_agg(json_build_object(
              'bootstrapCertId', p."bootstrapCertId", 'allowDeviceIds', p."allowDeviceIds", 'denyDeviceIds', p."denyDeviceIds",
              'maxEnrollments', p."maxEnrollments", 'enrollUntil', (extract(epoch from p."enrollUntil") * 1000)::float8,
              'requireDeviceSecret', p."requireDeviceSecret")), '[]'::json)
       FROM "EnrollmentPolicy" p
      WHERE p."customerId" = k.customer AND (p."bootstrapCertId" IS NULL OR p."bootstrapCertId" = k.boot)),
    EXISTS (SELECT 1 FROM "Device" d WHERE d."customerId" = k.customer AND d."deviceId" = k.device),
    EXISTS (SELECT 1 FROM "Certificate" c WHERE c."spkiSha256" = k.spki),
    (SELECT json_build_object('secretHash', s."secretHash", 'usedAt', (extract(epoch from s."usedAt") * 1000)::float8)
       FROM "DeviceSecret" s WHERE s."customerId" = k.customer AND s."deviceId" = k.device)
  FROM unnest(p_customer, p_boot, p_device, p_spki) WITH ORDINALITY AS k(customer, boot, device, spki, i);
END
$$;
