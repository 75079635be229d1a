// Accounts the e2e server is seeded with (e2e/server.ts), shared with the specs.
export const E2E_PORT = Number(process.env.E2E_PORT ?? 3210);
export const E2E_DEVICE_PORT = Number(process.env.E2E_DEVICE_PORT ?? 8643);

export const STAFF = { email: "staff@e2e.test", password: "staff-password-123" };
export const CUSTOMER = { name: "E2E Widgets", admin: { email: "admin@widgets.e2e.test", password: "admin-password-123" } };
export const VIEWER = { email: "viewer@widgets.e2e.test", password: "viewer-password-123" };
