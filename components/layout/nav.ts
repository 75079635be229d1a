import type { Role } from "@/lib/auth/options.ts";

/** The portal's sections (SPEC §8) and who may open them. Pages check the same roles on the server. */
export const NAV: { href: string; label: string; roles: Role[] }[] = [
  { href: "/", label: "Overview", roles: ["STAFF", "CUSTOMER_ADMIN", "CUSTOMER_VIEWER"] },
  { href: "/customers", label: "Customers", roles: ["STAFF"] },
  { href: "/ca", label: "CA hierarchy", roles: ["STAFF"] },
  { href: "/devices", label: "Device fleet", roles: ["STAFF", "CUSTOMER_ADMIN", "CUSTOMER_VIEWER"] },
  { href: "/bootstrap", label: "Bootstrapping certificates", roles: ["CUSTOMER_ADMIN", "CUSTOMER_VIEWER"] },
  { href: "/enrollment", label: "Enrollment policy", roles: ["CUSTOMER_ADMIN", "CUSTOMER_VIEWER"] },
  { href: "/keys", label: "Payload-signing keys", roles: ["CUSTOMER_ADMIN", "CUSTOMER_VIEWER"] },
  { href: "/users", label: "Users and API clients", roles: ["CUSTOMER_ADMIN", "CUSTOMER_VIEWER"] },
  { href: "/audit", label: "Audit log", roles: ["STAFF", "CUSTOMER_ADMIN", "CUSTOMER_VIEWER"] },
  { href: "/api-docs", label: "API", roles: ["STAFF", "CUSTOMER_ADMIN", "CUSTOMER_VIEWER"] },
];

export function navFor(role: Role) {
  return NAV.filter((n) => n.roles.includes(role));
}

export function rolesFor(href: string): Role[] {
  const item = NAV.find((n) => n.href === href);
  if (!item) throw new Error(`no nav entry for ${href}`);
  return item.roles;
}
