import { execFile, execFileSync } from "node:child_process";
import dgram from "node:dgram";
import { Resolver } from "node:dns/promises";
import net from "node:net";
import { promisify } from "node:util";
import { Packet, TCPClient } from "dns2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_QUERY_LOG, startDnsStandIn, type DnsStandIn } from "./dns-server.js";

const D1 = "api.d1-stg.thalescloud.test";
const MT = "tmg.dbp-stg.thalescloud.test";

function resolverFor(standIn: DnsStandIn): Resolver {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([standIn.server]);
  return resolver;
}

async function errorCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
  throw new Error("expected the lookup to fail");
}

/** Sends one raw UDP query and returns the parsed response. */
async function udpQuery(standIn: DnsStandIn, query: Packet): Promise<Packet> {
  const socket = dgram.createSocket("udp4");
  try {
    return await new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer within 2s")), 2000);
      socket.once("error", reject);
      socket.once("message", (data) => {
        clearTimeout(timer);
        resolve(Packet.parse(data));
      });
      socket.send(query.toBuffer(), standIn.port, standIn.address);
    });
  } finally {
    socket.close();
  }
}

function queryFor(name: string, type: number, extra: (p: Packet) => void = () => undefined): Packet {
  const p = new Packet();
  p.header.id = 0x1234;
  p.header.rd = 1;
  p.questions.push({ name, type, class: Packet.CLASS.IN } as Packet["questions"][number]);
  extra(p);
  return p;
}

function whichSync(tool: string): string | undefined {
  try {
    return execFileSync("which", [tool], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

describe("DNS stand-in", () => {
  let dns: DnsStandIn;
  let resolver: Resolver;

  beforeAll(async () => {
    dns = await startDnsStandIn({
      records: [
        { name: D1, address: "127.0.0.1", ttlSeconds: 30 },
        { name: MT, address: "127.0.0.1", ttlSeconds: 300 },
      ],
    });
    resolver = resolverFor(dns);
  });

  afterAll(async () => {
    await dns?.close();
  });

  it("listens on loopback and names itself as address:port", () => {
    expect(dns.address).toBe("127.0.0.1");
    expect(dns.port).toBeGreaterThan(0);
    expect(dns.server).toBe(`127.0.0.1:${dns.port}`);
  });

  it("answers A queries with the configured address and TTL", async () => {
    expect(await resolver.resolve4(D1, { ttl: true })).toEqual([{ address: "127.0.0.1", ttl: 30 }]);
    expect(await resolver.resolve4(MT, { ttl: true })).toEqual([{ address: "127.0.0.1", ttl: 300 }]);
  });

  it("answers NXDOMAIN (ENOTFOUND) for names it does not know", async () => {
    expect(await errorCode(resolver.resolve4("unknown.thalescloud.test"))).toBe("ENOTFOUND");
    expect(await errorCode(resolver.resolve4("api.d1-stg.thalescloud.io"))).toBe("ENOTFOUND");
    const last = dns.queries().at(-1);
    expect(last).toMatchObject({ name: "api.d1-stg.thalescloud.io", type: "A", answer: null, rcode: "NXDOMAIN" });
  });

  it("answers AAAA for a known name with an empty NOERROR answer", async () => {
    expect(await errorCode(resolver.resolve6(D1))).toBe("ENODATA");
    expect(dns.queries().at(-1)).toMatchObject({ name: D1, type: "AAAA", answer: null, rcode: "NOERROR" });
    expect(await errorCode(resolver.resolve6("nope.thalescloud.test"))).toBe("ENOTFOUND");
  });

  it("answers NOERROR with no data for a parent of a configured name (empty non-terminal)", async () => {
    expect(await errorCode(resolver.resolve4("d1-stg.thalescloud.test"))).toBe("ENODATA");
    expect(await errorCode(resolver.resolve4("thalescloud.test"))).toBe("ENODATA");
  });

  it("matches names case-insensitively, with or without the trailing dot, and echoes the question's case", async () => {
    expect(await resolver.resolve4("API.D1-Stg.ThalesCloud.TEST", { ttl: true })).toEqual([{ address: "127.0.0.1", ttl: 30 }]);
    expect(await resolver.resolve4(`${MT}.`)).toEqual(["127.0.0.1"]);
    const response = await udpQuery(dns, queryFor("Api.D1-STG.thalescloud.test", Packet.TYPE.A));
    expect(response.answers).toHaveLength(1);
    expect(response.answers[0]?.name).toBe("Api.D1-STG.thalescloud.test");
    expect(dns.queries().at(-1)).toMatchObject({ name: D1, answer: "127.0.0.1" });
  });

  it("sets the AA flag, not RA, and echoes the id and RD", async () => {
    const response = await udpQuery(dns, queryFor(D1, Packet.TYPE.A));
    expect(response.header).toMatchObject({ id: 0x1234, qr: 1, aa: 1, ra: 0, rd: 1, rcode: 0 });
    expect(response.answers[0]).toMatchObject({ type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 30, address: "127.0.0.1" });
  });

  it("answers EDNS queries with an OPT record of its own, and BADVERS for an unknown EDNS version", async () => {
    const withOpt = await udpQuery(
      dns,
      queryFor(D1, Packet.TYPE.A, (p) => p.additionals.push(Packet.Resource.EDNS([]))),
    );
    expect(withOpt.header.rcode).toBe(0);
    expect(withOpt.answers[0]?.address).toBe("127.0.0.1");
    expect(withOpt.additionals.filter((r) => r.type === Packet.TYPE.EDNS)).toHaveLength(1);

    const v1 = await udpQuery(
      dns,
      queryFor(D1, Packet.TYPE.A, (p) => {
        const opt = Packet.Resource.EDNS([]);
        opt.ttl = 1 << 16; // EDNS version 1
        p.additionals.push(opt);
      }),
    );
    expect(v1.header.rcode).toBe(16); // BADVERS, low nibble in the header and high bits in the OPT
    expect(v1.answers).toHaveLength(0);
  });

  it("refuses classes other than IN", async () => {
    const q = queryFor("version.bind", Packet.TYPE.TXT);
    q.questions[0]!.class = Packet.CLASS.CH;
    const response = await udpQuery(dns, q);
    expect(response.header.rcode).toBe(5);
  });

  it("answers over TCP on the same port", async () => {
    const resolve = TCPClient({ dns: dns.address, port: dns.port });
    const response = await resolve(MT, "A");
    expect(response.header.rcode).toBe(0);
    expect(response.answers[0]).toMatchObject({ address: "127.0.0.1", ttl: 300 });
    const missing = await resolve("missing.thalescloud.test", "A");
    expect(missing.header.rcode).toBe(3);
  });

  it("set() moves a name and the next query sees it; remove() makes it NXDOMAIN", async () => {
    const name = "moving.d1-stg.thalescloud.test";
    expect(await errorCode(resolver.resolve4(name))).toBe("ENOTFOUND");

    dns.set(name, "127.0.0.1");
    expect(await resolver.resolve4(name, { ttl: true })).toEqual([{ address: "127.0.0.1", ttl: 30 }]); // default TTL

    dns.set("Moving.D1-STG.thalescloud.test.", "127.0.0.2");
    expect(await resolver.resolve4(name, { ttl: true })).toEqual([{ address: "127.0.0.2", ttl: 30 }]); // TTL kept
    expect(dns.queries().at(-1)).toMatchObject({ name, type: "A", answer: "127.0.0.2", rcode: "NOERROR" });

    dns.set(name, "127.0.0.3", 5);
    expect(await resolver.resolve4(name, { ttl: true })).toEqual([{ address: "127.0.0.3", ttl: 5 }]);

    dns.remove(name.toUpperCase());
    expect(await errorCode(resolver.resolve4(name))).toBe("ENOTFOUND");
    dns.remove(name); // removing an unknown name does nothing
  });

  it("lists its records with lower-cased names", () => {
    dns.set("Extra.Thalescloud.Test", "127.0.0.9", 60);
    expect(dns.records()).toEqual([
      { name: D1, address: "127.0.0.1", ttlSeconds: 30 },
      { name: MT, address: "127.0.0.1", ttlSeconds: 300 },
      { name: "extra.thalescloud.test", address: "127.0.0.9", ttlSeconds: 60 },
    ]);
    dns.remove("extra.thalescloud.test");
    // records() hands out copies
    dns.records()[0]!.address = "127.0.0.42";
    expect(dns.records()[0]!.address).toBe("127.0.0.1");
  });

  it("logs every query answered, with a time", async () => {
    const before = Date.now();
    const count = dns.queries().length;
    await resolver.resolve4(MT);
    const after = Date.now();
    const log = dns.queries();
    expect(log.length).toBe(count + 1);
    const entry = log.at(-1)!;
    expect(entry).toMatchObject({ name: MT, type: "A", answer: "127.0.0.1", rcode: "NOERROR" });
    expect(entry.at).toBeGreaterThanOrEqual(before);
    expect(entry.at).toBeLessThanOrEqual(after);
    expect(MAX_QUERY_LOG).toBeGreaterThan(1000);
  });

  it("refuses records that point anywhere but IPv4 loopback", async () => {
    for (const address of ["10.0.0.1", "8.8.8.8", "0.0.0.0", "128.0.0.1", "::1", "localhost", "127.0.0.256", "127.1", " 127.0.0.1", ""]) {
      expect(() => dns.set("evil.thalescloud.test", address), address).toThrow(/IPv4 loopback address \(127\.0\.0\.0\/8/);
    }
    expect(dns.records().map((r) => r.name)).not.toContain("evil.thalescloud.test");
    // moving an existing name off the machine is refused too, and leaves it where it was
    expect(() => dns.set(D1, "192.168.1.10")).toThrow(/never steers a connection off this machine/);
    expect(await resolver.resolve4(D1)).toEqual(["127.0.0.1"]);

    await expect(
      startDnsStandIn({ records: [{ name: D1, address: "203.0.113.7", ttlSeconds: 30 }] }),
    ).rejects.toThrow(/refusing "api\.d1-stg\.thalescloud\.test" -> "203\.0\.113\.7"/);
  });

  it("refuses to bind anything but an IPv4 loopback address", async () => {
    for (const host of ["0.0.0.0", "::", "::1", "192.168.1.1", "localhost"]) {
      await expect(startDnsStandIn({ host }), host).rejects.toThrow(/host must be an IPv4 loopback address/);
    }
  });

  it("refuses bad names, TTLs, ports and duplicate records", async () => {
    expect(() => dns.set("not a name", "127.0.0.1")).toThrow(/is not a host name/);
    expect(() => dns.set("127.0.0.1", "127.0.0.1")).toThrow(/is an IP address/);
    expect(() => dns.set("a..b.test", "127.0.0.1")).toThrow(/is not a host name/);
    expect(() => dns.set(`${"x".repeat(64)}.test`, "127.0.0.1")).toThrow(/is not a host name/);
    expect(() => dns.set("ttl.thalescloud.test", "127.0.0.1", -1)).toThrow(/whole number of seconds/);
    expect(() => dns.set("ttl.thalescloud.test", "127.0.0.1", 1.5)).toThrow(/whole number of seconds/);
    await expect(startDnsStandIn({ port: 70000 })).rejects.toThrow(/port must be/);
    await expect(startDnsStandIn({ defaultTtlSeconds: -5 })).rejects.toThrow(/defaultTtlSeconds/);
    await expect(
      startDnsStandIn({
        records: [
          { name: D1, address: "127.0.0.1", ttlSeconds: 30 },
          { name: D1.toUpperCase(), address: "127.0.0.2", ttlSeconds: 30 },
        ],
      }),
    ).rejects.toThrow(/listed twice/);
  });

  it("reports a taken port clearly", async () => {
    await expect(startDnsStandIn({ port: dns.port })).rejects.toThrow(
      new RegExp(`cannot listen on UDP 127\\.0\\.0\\.1:${dns.port} \\(EADDRINUSE\\)`),
    );
  });

  it("answers with the real dig, when installed", async (ctx) => {
    const dig = whichSync("dig");
    if (!dig) {
      if (process.env.MTLSKIT_REQUIRE_TOOLS === "1") throw new Error("dig is not installed and MTLSKIT_REQUIRE_TOOLS=1");
      console.log("skipped: dig is not installed (set MTLSKIT_REQUIRE_TOOLS=1 to make this a failure)");
      ctx.skip();
      return;
    }
    const run = async (...args: string[]) =>
      (await promisify(execFile)(dig, [`@${dns.address}`, "-p", String(dns.port), "+time=2", "+tries=1", ...args], { encoding: "utf8" })).stdout;

    expect((await run("+short", D1)).trim()).toBe("127.0.0.1");
    expect((await run("+short", "+tcp", MT)).trim()).toBe("127.0.0.1");
    const full = await run("+noall", "+answer", "+comments", D1.toUpperCase());
    expect(full).toMatch(/status: NOERROR/);
    expect(full).toMatch(/flags: qr aa rd;/);
    expect(full).toMatch(new RegExp(`^${D1.toUpperCase().replace(/\./g, "\\.")}\\.\\s+30\\s+IN\\s+A\\s+127\\.0\\.0\\.1$`, "m"));
    expect(await run("+noall", "+comments", "nowhere.thalescloud.test")).toMatch(/status: NXDOMAIN/);
    const aaaa = await run("+noall", "+comments", "+answer", "AAAA", D1);
    expect(aaaa).toMatch(/status: NOERROR/);
    expect(aaaa).toMatch(/ANSWER: 0/);
  });
});

describe("DNS stand-in close()", () => {
  it("frees the port for both UDP and TCP, and may be called twice", async () => {
    const dns = await startDnsStandIn({ records: [{ name: D1, address: "127.0.0.1", ttlSeconds: 30 }] });
    const { port } = dns;
    // leave a TCP connection open: close() must not wait for it
    const resolve = TCPClient({ dns: dns.address, port });
    await resolve(D1, "A");
    const idle = net.connect(port, "127.0.0.1");
    await new Promise<void>((r) => idle.once("connect", () => r()));
    idle.on("error", () => undefined);

    // the server's own idle timeout is 10 s; close() must not wait for it
    const closed = await Promise.race([
      dns.close().then(() => "closed"),
      new Promise((r) => setTimeout(() => r("still waiting after 3 s"), 3000).unref()),
    ]);
    expect(closed).toBe("closed");
    await dns.close();

    const udp = dgram.createSocket("udp4");
    await new Promise<void>((resolveBind, reject) => {
      udp.once("error", reject);
      udp.bind(port, "127.0.0.1", () => resolveBind());
    });
    const tcp = net.createServer();
    await new Promise<void>((resolveListen, reject) => {
      tcp.once("error", reject);
      tcp.listen(port, "127.0.0.1", () => resolveListen());
    });
    await new Promise<void>((r) => udp.close(() => r()));
    await new Promise<void>((r) => tcp.close(() => r()));
    idle.destroy();
  });

  it("can start on a chosen port and on another loopback address", async () => {
    const probe = await startDnsStandIn({});
    const port = probe.port;
    await probe.close();
    const dns = await startDnsStandIn({ host: "127.0.0.1", port, defaultTtlSeconds: 7 });
    try {
      expect(dns.port).toBe(port);
      dns.set(D1, "127.0.0.2");
      expect(await resolverFor(dns).resolve4(D1, { ttl: true })).toEqual([{ address: "127.0.0.2", ttl: 7 }]);
    } finally {
      await dns.close();
    }
    const other = await startDnsStandIn({ host: "127.0.0.2", records: [{ name: MT, address: "127.0.0.1", ttlSeconds: 1 }] });
    try {
      expect(other.server).toBe(`127.0.0.2:${other.port}`);
      expect(await resolverFor(other).resolve4(MT)).toEqual(["127.0.0.1"]);
    } finally {
      await other.close();
    }
  });
});
