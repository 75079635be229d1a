// Tests only: one more app process serving the customer API's route handlers on the configured database
// (a PostgreSQL server, or the embedded database through the socket of the process that owns it).
// Prints {"url": …} once listening. Run it with --conditions=react-server, as server code runs in Next.js.
import { startApiServer } from "./api-server.ts";

const api = await startApiServer();
console.log(JSON.stringify({ url: api.url }));
process.on("SIGTERM", () => void api.close().then(() => process.exit(0)));
