-- Enrollment rate limits are part of the enrollment policy (SPEC §5): simpleenroll attempts per minute, per
-- bootstrapping certificate (its own row, else the customer-wide row) or per enrollment group (the customer-wide
-- row). NULL inherits (finally DEVICE_ENROLL_RATE_PER_MINUTE); 0 means no limit.
ALTER TABLE "EnrollmentPolicy" ADD COLUMN     "enrollRatePerMinute" INTEGER;

ALTER TABLE "EnrollmentPolicy" ADD CONSTRAINT "EnrollmentPolicy_enrollRatePerMinute_range"
  CHECK ("enrollRatePerMinute" IS NULL OR "enrollRatePerMinute" BETWEEN 0 AND 1000000);

-- enrollment_facts answers the new column with the other policy fields; otherwise as in
-- 20261122232654_enrollment_facts_one_probe.
DROP FUNCTION enrollment_facts(UUID[], UUID[], TEXT[], TEXT[]);

CREATE FUNCTION enrollment_facts(p_customer UUID[], p_boot UUID[], p_device TEXT[], p_spki TEXT[])
RETURNS TABLE (i INTEGER, policies JSON, "deviceExists" BOOLEAN, "deviceReset" BOOLEAN, "resetFor" TEXT, "enrolledBy" TEXT, "keyUsed" BOOLEAN, secret JSON)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT k.i::int,
    (SELECT coalesce(json_agg(json_build_object(
              'bootstrapCertId', p."bootstrapCertId", 'allowDeviceIds', p."allowDeviceIds", 'denyDeviceIds', p."denyDeviceIds",
              'maxEnrollments', p."maxEnrollments", 'enrollUntil', (extract(epoch from p."enrollUntil") * 1000)::float8,
              'requireDeviceSecret', p."requireDeviceSecret", 'enrollRatePerMinute', p."enrollRatePerMinute")), '[]'::json)
       FROM "EnrollmentPolicy" p
      WHERE p."customerId" = k.customer AND (p."bootstrapCertId" IS NULL OR p."bootstrapCertId" = k.boot)),
    d.id IS NOT NULL AND d."resetAt" IS NULL,
    d."resetAt" IS NOT NULL,
    d."resetFor"::text,
    d."enrolledById"::text,
    EXISTS (SELECT 1 FROM "Certificate" c WHERE c."spkiSha256" = k.spki),
    (SELECT json_build_object('secretHash', s."secretHash", 'usedAt', (extract(epoch from s."usedAt") * 1000)::float8)
       FROM "DeviceSecret" s WHERE s."customerId" = k.customer AND s."deviceId" = k.device)
  FROM unnest(p_customer, p_boot, p_device, p_spki) WITH ORDINALITY AS k(customer, boot, device, spki, i)
  LEFT JOIN "Device" d ON d."customerId" = k.customer AND d."deviceId" = k.device
  ORDER BY k.i;
END
$$;
