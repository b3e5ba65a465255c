/**
 * Property-based tests (fast-check) of every parser, for a bounded number of runs: random
 * bytes and mutated DER (bit flips, truncations, length octets changed, bytes inserted) of a
 * real certificate, CSR, private key and Name, and random `-subj` strings. Each parser either
 * returns or throws an `MtlsError` with an exit-2 code: never another error type, never a long
 * wait. The DER reader itself is held to the same rule, and walked to any depth.
 *
 * FUZZ_RUNS overrides the number of runs of each property (default 300).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, isMtlsError } from "../../src/errors/index.js";
import { children, parseDer, type Node } from "../../src/pki/asn1.js";
import { lintItems } from "../../src/lint/index.js";
import { decodeName, decodePkiObjects, describeCertificate, describeCsr, encodeSubject, loadPrivateKey, parseCertificate, parseCsr, parsePem, parseSubject, toPem, type PkiItem } from "../../src/pki/index.js";
import { buildMaterials, derHeaders, nestedSequences, subjectNameOf } from "./corpus.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
/** Longest one call may take (a parser is synchronous: this catches quadratic blow-ups, not hangs, which vitest's timeout catches). */
const MAX_CALL_MS = 2_000;

const m = await buildMaterials();
const SEEDS = {
  certificate: m.certDer,
  csr: m.csrDer,
  key: m.keyDer,
  name: subjectNameOf(m.certDer),
};

/** Returns normally, or throws an MtlsError whose code exits 2; fast. The failure says which. */
function returnsOrCodedError(what: string, call: () => unknown): void {
  const started = Date.now();
  try {
    call();
  } catch (e) {
    if (!isMtlsError(e)) {
      throw new Error(`${what} threw ${(e as Error)?.constructor?.name ?? typeof e}, not an MtlsError: ${String((e as Error)?.message ?? e).slice(0, 200)}`);
    }
    if (ERROR_CODES[e.code].exit !== 2) throw new Error(`${what} threw ${e.code}, whose exit status is ${ERROR_CODES[e.code].exit}, not 2 (bad input)`);
  }
  const ms = Date.now() - started;
  if (ms > MAX_CALL_MS) throw new Error(`${what} took ${ms} ms`);
}

// --- Mutations of sound DER ------------------------------------------------------------------
type Mutation =
  | { kind: "flip"; bit: number }
  | { kind: "truncate"; at: number }
  | { kind: "length"; header: number; value: number; long: boolean }
  | { kind: "insert"; at: number; byte: number }
  | { kind: "set"; at: number; byte: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), bit: fc.nat() }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("length" as const), header: fc.nat(), value: fc.oneof(fc.integer({ min: 0, max: 0xff }), fc.constantFrom(0x80, 0x81, 0x84, 0x85, 0xff)), long: fc.boolean() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 0xff }) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x05, 0x30, 0x31, 0x80, 0xa0, 0xff) }),
);

/** Applies mutations in order; length changes hit the length octets of a real TLV header. */
function mutate(der: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let out = new Uint8Array(der);
  for (const mu of ms) {
    if (out.length === 0) break;
    switch (mu.kind) {
      case "flip":
        out[Math.floor(mu.bit / 8) % out.length]! ^= 1 << (mu.bit % 8);
        break;
      case "truncate":
        out = out.slice(0, mu.at % out.length);
        break;
      case "length": {
        const headers = derHeaders(out);
        const h = headers[mu.header % Math.max(1, headers.length)];
        if (!h) break;
        // Short form: replace the octet; long form: replace the last length octet, or (long) the count octet.
        const at = mu.long || h.lengthOctets === 1 ? h.lengthAt : h.lengthAt + h.lengthOctets - 1;
        if (at < out.length) out[at] = mu.value;
        break;
      }
      case "insert": {
        const at = mu.at % (out.length + 1);
        out = new Uint8Array([...out.subarray(0, at), mu.byte, ...out.subarray(at)]);
        break;
      }
      case "set":
        out[mu.at % out.length] = mu.byte;
        break;
    }
  }
  return out;
}

const mutated = (seed: Uint8Array) => fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => mutate(seed, ms));
const randomBytes = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }),
  // DER-looking: a SEQUENCE header and random contents, sometimes with a long-form length.
  fc.tuple(fc.constantFrom(0x30, 0x31, 0xa0, 0x04, 0x03), fc.uint8Array({ maxLength: 600 })).map(([tag, rest]) => Uint8Array.of(tag, ...rest)),
);

/** Every node of a DER value, depth first, with an explicit stack (a walker of any depth). */
function walk(der: Uint8Array): number {
  const stack: Node[] = [parseDer(der)];
  let count = 0;
  while (stack.length > 0) {
    const n = stack.pop()!;
    count++;
    for (const c of children(n)) stack.push(c);
  }
  return count;
}

describe("fast-check: random bytes and mutated DER never crash a parser", () => {
  it("decodePkiObjects: random bytes, and mutations of a certificate, a CSR and a key", () => {
    fc.assert(
      fc.property(fc.oneof(randomBytes, mutated(SEEDS.certificate), mutated(SEEDS.csr), mutated(SEEDS.key)), (bytes) => {
        let items: PkiItem[] | undefined;
        returnsOrCodedError("decodePkiObjects", () => (items = decodePkiObjects(bytes, "fuzz.der")));
        // What gets past the reader meets the lint rules and the inspect view next.
        if (items) {
          const got = items;
          returnsOrCodedError("lintItems", () => lintItems(got, { program: "d1", environment: "preprod", gatewayId: "123456" }));
          returnsOrCodedError("describeCertificate/describeCsr", () => got.forEach((i) => (i.kind === "certificate" ? describeCertificate(i) : i.kind === "csr" ? describeCsr(i) : undefined)));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("parseCertificate: mutations of a certificate", () => {
    fc.assert(
      fc.property(fc.oneof(mutated(SEEDS.certificate), randomBytes), (bytes) => returnsOrCodedError("parseCertificate", () => parseCertificate(bytes, "fuzz.crt"))),
      { numRuns: RUNS },
    );
  });

  it("parseCsr: mutations of a CSR", () => {
    fc.assert(
      fc.property(fc.oneof(mutated(SEEDS.csr), randomBytes), (bytes) => returnsOrCodedError("parseCsr", () => parseCsr(bytes, "fuzz.csr"))),
      { numRuns: RUNS },
    );
  });

  it("loadPrivateKey: mutations of a key, in DER and in PEM", () => {
    fc.assert(
      fc.property(fc.oneof(mutated(SEEDS.key), randomBytes), fc.boolean(), (bytes, pem) => {
        const input = pem ? new Uint8Array(Buffer.from(toPem("PRIVATE KEY", bytes), "latin1")) : bytes;
        returnsOrCodedError("loadPrivateKey", () => loadPrivateKey(input, { source: "fuzz.key" }));
      }),
      { numRuns: RUNS },
    );
  });

  it("decodeName: mutations of a certificate's subject", () => {
    fc.assert(
      fc.property(fc.oneof(mutated(SEEDS.name), randomBytes), (bytes) => returnsOrCodedError("decodeName", () => decodeName(bytes))),
      { numRuns: RUNS },
    );
  });

  it("parsePem: random text around, inside and instead of PEM blocks", () => {
    const pem = toPem("CERTIFICATE", SEEDS.certificate);
    const fragment = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom("-----BEGIN ", "-----END ", "CERTIFICATE", "PRIVATE KEY", "-----", "\n", "\r\n", "=", "==", "Proc-Type: 4,ENCRYPTED\n", "\u0000", "\uFEFF", "é"),
      fc.integer({ min: 0, max: pem.length }).chain((a) => fc.integer({ min: a, max: pem.length }).map((b) => pem.slice(a, b))),
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 12 }), (parts) => {
        const text = parts.join("");
        returnsOrCodedError("parsePem", () => parsePem(text, "fuzz.pem"));
        returnsOrCodedError("decodePkiObjects (text)", () => decodePkiObjects(new Uint8Array(Buffer.from(text, "latin1")), "fuzz.pem"));
      }),
      { numRuns: RUNS },
    );
  });

  it("parseSubject: random strings and strings built from subject syntax", () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.string({ unit: "binary", maxLength: 8 }),
      fc.constantFrom("/", "=", "+", "\\", "\\/", "\\+", "C", "CN", "O", "OU", "ST", "L", "emailAddress", "DC", "1.2.3.4", "2.5.4.3", "FR", "\u0000", "\u202E", "\uFEFF", " "),
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.array(piece, { maxLength: 16 }).map((p) => `/${p.join("")}`)), (text) => {
        returnsOrCodedError("parseSubject", () => parseSubject(text));
      }),
      { numRuns: RUNS },
    );
  });

  it("the DER reader (parseDer, children): random bytes and mutated DER, walked to any depth", () => {
    fc.assert(
      fc.property(fc.oneof(randomBytes, mutated(SEEDS.certificate), mutated(SEEDS.csr), mutated(SEEDS.name)), (bytes) => {
        returnsOrCodedError("the DER reader", () => walk(bytes));
      }),
      { numRuns: RUNS },
    );
  });

  const deep = [nestedSequences(100_000), nestedSequences(100_000, 0x31), new Uint8Array(Buffer.alloc(200_000, Buffer.from([0x30, 0x80])))];

  it("every parser: 100,000 nested SEQUENCEs and SETs, definite and indefinite (no stack overflow)", () => {
    for (const der of deep) {
      returnsOrCodedError("decodePkiObjects", () => decodePkiObjects(der, "deep.der"));
      returnsOrCodedError("parseCertificate", () => parseCertificate(der, "deep.der"));
      returnsOrCodedError("parseCsr", () => parseCsr(der, "deep.der"));
      returnsOrCodedError("decodeName", () => decodeName(der));
      returnsOrCodedError("loadPrivateKey", () => loadPrivateKey(der, { source: "deep.der" }));
    }
  });

  it("the DER reader: 100,000 nested SEQUENCEs and SETs, definite and indefinite, walked to the bottom", () => {
    for (const der of deep) returnsOrCodedError("the DER reader", () => walk(der));
  });
});

describe("fast-check: what parseSubject accepts, encodeSubject writes and decodeName reads back unchanged", () => {
  it("round trip of generated subjects", () => {
    const type = fc.constantFrom("CN", "O", "OU", "L", "ST", "street", "UID", "1.2.3.4", "2.999999999", "1.99999999999999999999");
    const value = fc.oneof(
      fc.string({ minLength: 1, maxLength: 20 }).filter((v) => !/[/+\\]/.test(v)),
      fc.constantFrom("\uFEFFTLSMA-ECDSA", "a\uFEFF", "\uFFFE", "x"),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(type, value), { minLength: 1, maxLength: 5 }), (attrs) => {
        const text = attrs.map(([t, v]) => `/${t}=${v}`).join("");
        let rdns;
        try {
          rdns = parseSubject(text);
        } catch (e) {
          if (isMtlsError(e)) return; // refused: fine
          throw e;
        }
        const back = decodeName(encodeSubject(rdns));
        expect(back.map((r) => r.map((a) => [a.oid, a.value]))).toEqual(rdns.map((r) => r.map((a) => [a.oid, a.value])));
      }),
      { numRuns: RUNS },
    );
  });
});
