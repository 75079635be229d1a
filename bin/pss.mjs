#!/usr/bin/env node
// `npx pss …`: the project's TypeScript, run through tsx so the CLI needs no build step.
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
