#!/usr/bin/env node
// `npx pss-device …`: the device SDK's command line, run through tsx like bin/pss.mjs.
import { register } from "tsx/esm/api";

register();
await import("../lib/device-sdk/cli.ts");
