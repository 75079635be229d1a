-- The device API's hot functions keep one generic plan per database session (20261122134500_hot_reads_generic_plans),
-- made from the table statistics of that moment and kept until they change. On a new database the tables are empty
-- and never analyzed, and the plans made then scanned whole tables as they grew: a sequential scan of Device and of
-- Certificate per batch, every unrevoked certificate through the (issuerId, revokedAt) index for the authorizing
-- certificate check, every certificate by createdAt for a replacement, and every key digest hashed for "key already
-- certified". Until autovacuum's ANALYZE replaced them (PostgreSQL, a minute or more later) — or for as long as the
-- process ran on the embedded PGlite, which has no autovacuum. `pss bench enroll` on a new database: 788 kept-alive
-- enrollments/s against 1,374 on an analyzed one. Every statement of these functions finds its rows by key, so the
-- plans are pinned to that whatever the statistics say:
--   * no sequential scans, hash joins or merge joins in the functions' own statements: nested loops over index probes;
--   * issue_batch's authorizing-certificate check filters revokedAt and quarantinedAt after the primary-key probe
--     (it now also share-locks a revoked or quarantined certificate it then refuses: harmless);
--   * enrollment_facts' "key already certified" is a scalar subquery (an EXISTS may be run as one hash of every key);
--   * a certificate's oldest replacement is found on an index of (replacesId, createdAt).

-- DropIndex
DROP INDEX "Certificate_replacesId_idx";

-- CreateIndex
CREATE INDEX "Certificate_replacesId_createdAt_idx" ON "Certificate"("replacesId", "createdAt");

-- issue_batch as in 20261122225617_device_reset_credential but for the authorizing-certificate check.
CREATE OR REPLACE FUNCTION issue_batch(
  p_at TIMESTAMP(3),
  p_id UUID[], p_serial TEXT[], p_kind TEXT[], p_profile TEXT[], p_issuer UUID[], p_customer UUID[], p_uid TEXT[],
  p_subject TEXT[], p_spki TEXT[], p_der_hex TEXT[], p_not_before TIMESTAMP(3)[], p_not_after TIMESTAMP(3)[],
  p_authorized_by TEXT[], p_device_id TEXT[], p_create_only BOOLEAN[], p_enrolled_by UUID[], p_new_key BOOLEAN[],
  p_actor_type TEXT[], p_actor_id TEXT[], p_audit_customer UUID[], p_details JSONB[], p_auth UUID[]
) RETURNS TEXT[] LANGUAGE plpgsql AS $$
DECLARE
  n INTEGER := coalesce(array_length(p_id, 1), 0);
  active UUID[];
  certified TEXT[];
  -- devices of this batch: existing ones, then those created by earlier rows (key: customer uuid || device id)
  known_key TEXT[];
  known_id UUID[];
  known_new BOOLEAN[];
  known_active BOOLEAN[];
  known_reset BOOLEAN[];
  known_reset_for UUID[];
  auth_ok UUID[];
  outcome TEXT[] := array_fill(NULL::TEXT, ARRAY[n]);
  ref UUID[] := array_fill(NULL::UUID, ARRAY[n]);
  created BOOLEAN[] := array_fill(false, ARRAY[n]);
  reenrolled BOOLEAN[] := array_fill(false, ARRAY[n]);
  cur_device UUID[];
  cur_cert UUID[];
  cur_serial TEXT[];
  cur_not_after TIMESTAMP(3)[];
  cur_uid TEXT[];
  k TEXT;
  j INTEGER;
BEGIN
  SELECT coalesce(array_agg(id), '{}') INTO active
    FROM (SELECT id FROM "CertificateAuthority" WHERE id = ANY(p_issuer) AND status = 'ACTIVE' FOR SHARE) ca;

  PERFORM pg_advisory_xact_lock(l)
    FROM (SELECT DISTINCT ('x' || left(s, 16))::bit(64)::bigint AS l FROM unnest(p_spki, p_new_key) AS t(s, w) WHERE w ORDER BY 1) locks;
  SELECT coalesce(array_agg(DISTINCT "spkiSha256"), '{}') INTO certified FROM "Certificate"
    WHERE "spkiSha256" = ANY(ARRAY(SELECT s FROM unnest(p_spki, p_new_key) AS t(s, w) WHERE w));

  -- the certificates that authenticated the requests (mTLS), still neither revoked nor quarantined, under a share
  -- lock: a revocation committed meanwhile is seen here, one that comes later waits and then finds what this wrote
  SELECT coalesce(array_agg(id) FILTER (WHERE "revokedAt" IS NULL AND "quarantinedAt" IS NULL), '{}') INTO auth_ok
    FROM (SELECT id, "revokedAt", "quarantinedAt" FROM "Certificate" WHERE id = ANY(p_auth) ORDER BY id FOR SHARE) a;

  -- existing devices, under a share lock: a decommissioning (which updates the device row first) is seen here or waits
  SELECT coalesce(array_agg(dkey ORDER BY id), '{}'), coalesce(array_agg(id ORDER BY id), '{}'), coalesce(array_agg(is_active ORDER BY id), '{}'),
      coalesce(array_agg(is_reset ORDER BY id), '{}'), coalesce(array_agg(reset_for ORDER BY id), '{}')
    INTO known_key, known_id, known_active, known_reset, known_reset_for
    FROM (SELECT d.id, d."customerId"::text || d."deviceId" AS dkey, d.status = 'ACTIVE' AS is_active, d."resetAt" IS NOT NULL AS is_reset,
            d."resetFor" AS reset_for
          FROM "Device" d
          JOIN (SELECT DISTINCT c, v FROM unnest(p_customer, p_device_id) AS t(c, v) WHERE c IS NOT NULL AND v IS NOT NULL) w
            ON d."customerId" = w.c AND d."deviceId" = w.v
          ORDER BY d.id FOR SHARE OF d) known;
  known_new := array_fill(false, ARRAY[coalesce(array_length(known_id, 1), 0)]);

  FOR i IN 1..n LOOP
    IF NOT p_issuer[i] = ANY(active) THEN
      outcome[i] := 'issuer_changed';
      CONTINUE;
    END IF;
    IF p_auth[i] IS NOT NULL AND NOT p_auth[i] = ANY(auth_ok) THEN
      outcome[i] := 'auth_revoked';
      CONTINUE;
    END IF;
    IF p_new_key[i] AND p_spki[i] = ANY(certified) THEN
      outcome[i] := 'csr_key_reused';
      CONTINUE;
    END IF;
    IF p_device_id[i] IS NOT NULL AND p_customer[i] IS NOT NULL THEN
      k := p_customer[i]::text || p_device_id[i];
      j := array_position(known_key, k);
      IF j IS NOT NULL AND p_create_only[i] AND NOT known_reset[j] THEN
        outcome[i] := 'device_exists';
        CONTINUE;
      END IF;
      IF j IS NOT NULL AND p_create_only[i] AND p_enrolled_by[i] IS DISTINCT FROM known_reset_for[j] THEN
        -- a reset device re-enrolls with the credential the reset names only (NULL: its enrollment group)
        outcome[i] := 'reset_credential_mismatch';
        CONTINUE;
      END IF;
      IF j IS NOT NULL AND p_create_only[i] THEN
        -- the first enrollment of a device id an admin reset: it re-enrolls the device, once
        known_reset[j] := false;
        reenrolled[i] := true;
      END IF;
      IF j IS NOT NULL AND NOT known_active[j] THEN
        outcome[i] := 'device_decommissioned';
        CONTINUE;
      END IF;
      IF j IS NULL THEN
        known_key := known_key || k;
        known_id := known_id || gen_random_uuid();
        known_new := known_new || true;
        known_active := known_active || true;
        known_reset := known_reset || false;
        known_reset_for := known_reset_for || NULL::UUID;
        j := array_length(known_key, 1);
        created[i] := true;
      END IF;
      ref[i] := known_id[j];
    END IF;
    certified := certified || p_spki[i];
    outcome[i] := 'ok';
  END LOOP;

  -- each device's newest Client TLS certificate of the batch
  SELECT coalesce(array_agg(r), '{}'), coalesce(array_agg(c), '{}'), coalesce(array_agg(s), '{}'), coalesce(array_agg(na), '{}'),
      coalesce(array_agg(u), '{}')
    INTO cur_device, cur_cert, cur_serial, cur_not_after, cur_uid
    FROM (SELECT DISTINCT ON (r) r, c, s, na, u
          FROM unnest(ref, p_id, p_serial, p_not_after, p_uid, p_profile, outcome) WITH ORDINALITY AS t(r, c, s, na, u, p, o, i)
          WHERE o = 'ok' AND p = 'client-tls' AND r IS NOT NULL
          ORDER BY r, i DESC) newest;

  -- the one join of two arrays (no table): a hash join, not a nested loop over both (the function turns hash joins off
  -- for its look-ups; the setting returns to off below, and to the caller's value when the function returns)
  PERFORM set_config('enable_hashjoin', 'on', true);
  INSERT INTO "Device" (id, "customerId", "deviceId", "enrolledById", "currentCertId", "currentSerial", "currentNotAfter", uid,
      "enrolledAt", "lastRotatedAt")
    SELECT t.r, t.c, t.v, t.e, cur.cert, cur.serial, cur.na, cur.uid, p_at, p_at
    FROM unnest(ref, p_customer, p_device_id, p_enrolled_by, created) AS t(r, c, v, e, made)
    LEFT JOIN unnest(cur_device, cur_cert, cur_serial, cur_not_after, cur_uid) AS cur(device, cert, serial, na, uid) ON cur.device = t.r
    WHERE t.made;
  PERFORM set_config('enable_hashjoin', 'off', true);

  -- a reset device re-enrolls: enrolled anew by this credential, its new certificate current whatever the old one's expiry
  UPDATE "Device" d SET "enrolledById" = t.e, "enrolledAt" = p_at, "resetAt" = NULL, "resetFor" = NULL, "currentNotAfter" = NULL
    FROM unnest(ref, p_enrolled_by, reenrolled) AS t(r, e, again)
    WHERE t.again AND d.id = t.r;

  -- an existing device rotates; its current certificate moves unless a newer one is current already
  UPDATE "Device" d SET "lastRotatedAt" = p_at,
      "currentCertId" = CASE WHEN d."currentNotAfter" IS NULL OR d."currentNotAfter" <= cur.na THEN cur.cert ELSE d."currentCertId" END,
      "currentSerial" = CASE WHEN d."currentNotAfter" IS NULL OR d."currentNotAfter" <= cur.na THEN cur.serial ELSE d."currentSerial" END,
      "currentRevokedAt" = CASE WHEN d."currentNotAfter" IS NULL OR d."currentNotAfter" <= cur.na THEN NULL ELSE d."currentRevokedAt" END,
      uid = CASE WHEN d."currentNotAfter" IS NULL OR d."currentNotAfter" <= cur.na THEN cur.uid ELSE d.uid END,
      "currentNotAfter" = GREATEST(d."currentNotAfter", cur.na)
    FROM unnest(cur_device, cur_cert, cur_serial, cur_not_after, cur_uid) AS cur(device, cert, serial, na, uid)
    WHERE d.id = cur.device AND NOT cur.device = ANY(ARRAY(SELECT r FROM unnest(ref, created) AS t(r, made) WHERE made));

  INSERT INTO "Certificate" (id, serial, kind, profile, "issuerId", "customerId", "deviceRef", uid, subject, "spkiSha256", der,
      "notBefore", "notAfter", "authorizedBy", "createdAt")
    SELECT id, serial, kind::"CertKind", profile, issuer, customer, r, uid, subject, spki, decode(der, 'hex'), nb, na, auth, p_at
    FROM unnest(p_id, p_serial, p_kind, p_profile, p_issuer, p_customer, ref, p_uid, p_subject, p_spki, p_der_hex, p_not_before,
      p_not_after, p_authorized_by, outcome) AS t(id, serial, kind, profile, issuer, customer, r, uid, subject, spki, der, nb, na, auth, o)
    WHERE o = 'ok';

  INSERT INTO "AuditEvent" (action, outcome, "actorType", "actorId", "customerId", target, details, at)
    SELECT 'certificate.issue', 'success', typ, ai, customer, 'certificate:' || serial, details, p_at
    FROM unnest(p_actor_type, p_actor_id, p_audit_customer, p_serial, p_details, outcome) AS t(typ, ai, customer, serial, details, o)
    WHERE o = 'ok';

  RETURN outcome;
END
$$;

-- enrollment_facts as in 20261123083939_enrollment_facts_device_lists but for "key already certified".
CREATE OR REPLACE FUNCTION enrollment_facts(p_customer UUID[], p_boot UUID[], p_device TEXT[], p_spki TEXT[])
RETURNS TABLE (i INTEGER, policies JSON, "deviceExists" BOOLEAN, "deviceReset" BOOLEAN, "resetFor" TEXT, "enrolledBy" TEXT, "keyUsed" BOOLEAN, secret JSON)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT k.i::int,
    (SELECT coalesce(json_agg(json_build_object(
              'bootstrapCertId', p."bootstrapCertId",
              'allowDeviceIds', CASE WHEN cardinality(p."allowDeviceIds") = 0 THEN ARRAY[]::text[]
                                     WHEN k.device = ANY(p."allowDeviceIds") THEN ARRAY[k.device]
                                     ELSE ARRAY['']::text[] END,
              'denyDeviceIds', CASE WHEN k.device = ANY(p."denyDeviceIds") THEN ARRAY[k.device] ELSE ARRAY[]::text[] END,
              'maxEnrollments', p."maxEnrollments", 'enrollUntil', (extract(epoch from p."enrollUntil") * 1000)::float8,
              'requireDeviceSecret', p."requireDeviceSecret", 'enrollRatePerMinute', p."enrollRatePerMinute")), '[]'::json)
       FROM "EnrollmentPolicy" p
      WHERE p."customerId" = k.customer AND (p."bootstrapCertId" IS NULL OR p."bootstrapCertId" = k.boot)),
    d.id IS NOT NULL AND d."resetAt" IS NULL,
    d."resetAt" IS NOT NULL,
    d."resetFor"::text,
    d."enrolledById"::text,
    coalesce((SELECT true FROM "Certificate" c WHERE c."spkiSha256" = k.spki LIMIT 1), false),
    (SELECT json_build_object('secretHash', s."secretHash", 'usedAt', (extract(epoch from s."usedAt") * 1000)::float8)
       FROM "DeviceSecret" s WHERE s."customerId" = k.customer AND s."deviceId" = k.device)
  FROM unnest(p_customer, p_boot, p_device, p_spki) WITH ORDINALITY AS k(customer, boot, device, spki, i)
  LEFT JOIN "Device" d ON d."customerId" = k.customer AND d."deviceId" = k.device
  ORDER BY k.i;
END
$$;

ALTER FUNCTION issue_batch SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
  SET enable_mergejoin = off;
ALTER FUNCTION device_auth_rows SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION enrollment_facts SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
