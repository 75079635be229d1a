#!/usr/bin/env node
// `npx pss-device …`: the device SDK's command line, run through tsx like bin/pss.mjs.
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

// The project's tsconfig by path, as in bin/pss.mjs: the CLI works from any directory.
register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
await import("../lib/device-sdk/cli.ts");
