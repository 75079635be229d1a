-- enrollment_facts answers each policy's device lists for the enrolling device only, not whole: an allow-list
-- becomes [] (none set), [device] (the device is on it) or [''] (set, without the device: '' is no device id); a
-- deny-list [device] or []. policyFromRows / checkDeviceLists read them as before. With lists of up to 100,000 ids
-- each, every simpleenroll attempt used to copy megabytes of JSON out of the database and parse them.
-- Otherwise as in 20261123055137_enrollment_rate_limit.
DROP FUNCTION enrollment_facts(UUID[], UUID[], TEXT[], TEXT[]);

CREATE FUNCTION enrollment_facts(p_customer UUID[], p_boot UUID[], p_device TEXT[], p_spki TEXT[])
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
    EXISTS (SELECT 1 FROM "Certificate" c WHERE c."spkiSha256" = k.spki),
    (SELECT json_build_object('secretHash', s."secretHash", 'usedAt', (extract(epoch from s."usedAt") * 1000)::float8)
       FROM "DeviceSecret" s WHERE s."customerId" = k.customer AND s."deviceId" = k.device)
  FROM unnest(p_customer, p_boot, p_device, p_spki) WITH ORDINALITY AS k(customer, boot, device, spki, i)
  LEFT JOIN "Device" d ON d."customerId" = k.customer AND d."deviceId" = k.device
  ORDER BY k.i;
END
$$;
