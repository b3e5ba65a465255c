// External engines (nginx, HAProxy): configuration generators, the folder they run from, and
// the supervisor of `mtlskit serve --engine nginx|haproxy`.
export * from "./model.js";
export * from "./nginx.js";
export * from "./haproxy.js";
export * from "./files.js";
export * from "./supervisor.js";
