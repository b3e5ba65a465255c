import { defineFor, runFor } from "./engine.js";

export const define = defineFor("nginx");
export const run = runFor("nginx");
