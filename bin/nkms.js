#!/usr/bin/env node
// The CLI is TypeScript; tsx compiles it on load so the package ships no build step.
require("tsx/cjs");
require("../src/cli/main.ts");
