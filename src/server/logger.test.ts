import { describe, expect, it } from "vitest";
import { createJsonLogger } from "./logger.js";

describe("createJsonLogger (issue 10: ISO times and level names)", () => {
  it("writes pino lines with an ISO time, the level's name, the base fields and msg; drops lines below the level", () => {
    const lines: string[] = [];
    const log = createJsonLogger({ level: "info", base: { profile: "d1-pp" }, stream: { write: (l: string) => lines.push(l) } });
    log.debug({ event: "hidden" }, "not written");
    log.info({ event: "listening" }, "listening");
    log.warn({ event: "handshake_refused", reason: "no_certificate" }, "refused");
    log.error({ event: "boom" }, "failed");
    const docs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(docs.map((d) => d["level"])).toEqual(["info", "warn", "error"]);
    for (const d of docs) {
      expect(d["time"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(d["profile"]).toBe("d1-pp");
      expect(d).not.toHaveProperty("pid");
      expect(d).not.toHaveProperty("hostname");
    }
    expect(docs[1]).toMatchObject({ event: "handshake_refused", reason: "no_certificate", msg: "refused" });
  });

  it("silent writes nothing; debug writes debug", () => {
    const lines: string[] = [];
    const stream = { write: (l: string) => lines.push(l) };
    createJsonLogger({ level: "silent", stream }).error({}, "x");
    expect(lines).toEqual([]);
    createJsonLogger({ level: "debug", stream }).debug({ a: 1 }, "y");
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "debug", a: 1, msg: "y" });
  });
});
