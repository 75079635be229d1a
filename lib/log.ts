// Structured JSON logs. Secrets are redacted by key name wherever they appear.
import pino from "pino";
import { env } from "./env.ts";

// Logging must work even when the configuration is invalid (start-up reports that error itself).
function level(): pino.Level | "silent" {
  try {
    return env().LOG_LEVEL;
  } catch {
    return "info";
  }
}

const g = globalThis as unknown as { __pssLog?: pino.Logger };

g.__pssLog ??= pino({
  level: level(),
  base: { service: "pss" },
  redact: {
    paths: [
      "password",
      "*.password",
      "secret",
      "*.secret",
      "clientSecret",
      "*.clientSecret",
      "token",
      "*.token",
      "privateKey",
      "*.privateKey",
      "authorization",
      "*.authorization",
      "headers.authorization",
      "masterKey",
      "*.masterKey",
      "pin",
      "*.pin",
    ],
    censor: "[redacted]",
  },
});

export const log: pino.Logger = g.__pssLog;
