#!/usr/bin/env node
// The lapis CLI as separate modules, as TypeScript compiles it; `lapis server` runs this one (see lapis.ts).
import './program.js';
