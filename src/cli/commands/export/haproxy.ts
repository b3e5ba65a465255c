import { defineFor, runFor } from "./engine.js";

export const define = defineFor("haproxy");
export const run = runFor("haproxy");
