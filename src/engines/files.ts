/**
 * The whole folder an engine runs from: configuration, certificates, CA file, key (0600), error
 * pages. `engineFolderFiles` is pure (same inputs, same bytes); `writeEngineFolder` writes each
 * file atomically.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { MtlsError } from "../errors/index.js";
import { replaceFile } from "../store/fs-ops.js";
import { haproxyCfg, haproxyErrorFiles } from "./haproxy.js";
import { ENGINE_FILES, type EngineModel, type EngineName } from "./model.js";
import { nginxConf, nginxServerBlock } from "./nginx.js";

/** The PEM texts the engine serves. */
export interface EngineMaterial {
  readonly certPem: string;
  readonly chainPem?: string;
  readonly keyPem: string;
  readonly caPem: string;
}

/** One file of the folder. */
export interface EngineFile {
  readonly data: string;
  readonly mode: number;
}

function nl(s: string): string {
  return s.endsWith("\n") ? s : `${s}\n`;
}

/** Reads the profile's (or options') PEM files. */
export async function readMaterial(files: { certFile: string; keyFile: string; chainFile?: string; caFile: string }): Promise<EngineMaterial> {
  const read = async (f: string) => {
    try {
      return await fs.readFile(f, "utf8");
    } catch (e) {
      throw new MtlsError("FILE_NOT_FOUND", `cannot read ${f}: ${(e as Error).message}`, { subject: f });
    }
  };
  return {
    certPem: await read(files.certFile),
    ...(files.chainFile ? { chainPem: await read(files.chainFile) } : {}),
    keyPem: await read(files.keyFile),
    caPem: await read(files.caFile),
  };
}

/** Every file of the engine's folder, relative path -> content and mode. Pure. */
export function engineFolderFiles(engine: EngineName, m: EngineModel, mat: EngineMaterial, options: { daemon?: boolean; masterWorker?: boolean } = {}): Record<string, EngineFile> {
  const fullchain = nl(mat.certPem) + (mat.chainPem ? nl(mat.chainPem) : "");
  const out: Record<string, EngineFile> = {
    [ENGINE_FILES.clientCa]: { data: nl(mat.caPem), mode: 0o644 },
  };
  if (engine === "nginx") {
    out[ENGINE_FILES.serverChain] = { data: fullchain, mode: 0o644 };
    out[ENGINE_FILES.serverKey] = { data: nl(mat.keyPem), mode: 0o600 };
    out[`conf.d/thales-${m.profile}.conf`] = { data: nginxServerBlock(m), mode: 0o644 };
    out["nginx.conf"] = { data: nginxConf(m, options.daemon === undefined ? {} : { daemon: options.daemon }), mode: 0o644 };
  } else {
    out[ENGINE_FILES.serverBundle] = { data: fullchain + nl(mat.keyPem), mode: 0o600 };
    for (const [rel, data] of Object.entries(haproxyErrorFiles(m))) out[rel] = { data, mode: 0o644 };
    out["haproxy.cfg"] = { data: haproxyCfg(m, options.masterWorker ? { masterWorker: true } : {}), mode: 0o644 };
  }
  return out;
}

/** The main configuration file of an engine, relative to its folder. */
export function mainConfigFile(engine: EngineName): string {
  return engine === "nginx" ? "nginx.conf" : "haproxy.cfg";
}

/**
 * Writes the folder: each file atomically, keys 0600, plus the empty folders the engine needs
 * (logs, temp). Without `force`, `EXPORT_TARGET_EXISTS` when a main configuration is there.
 */
export async function writeEngineFolder(dir: string, engine: EngineName, files: Record<string, EngineFile>, options: { force?: boolean } = {}): Promise<string[]> {
  const main = path.join(dir, mainConfigFile(engine));
  if (!options.force) {
    const there = await fs.stat(main).then(
      () => true,
      () => false,
    );
    if (there) throw new MtlsError("EXPORT_TARGET_EXISTS", `${main} already exists`, { subject: main });
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (engine === "nginx") {
    await fs.mkdir(path.join(dir, "logs"), { recursive: true });
    await fs.mkdir(path.join(dir, "temp"), { recursive: true });
  }
  const names = Object.keys(files).sort();
  // Configuration last: a folder with a main file is always complete.
  const ordered = [...names.filter((n) => n !== mainConfigFile(engine)), mainConfigFile(engine)].filter((n) => files[n] !== undefined);
  for (const rel of ordered) {
    const f = files[rel]!;
    await replaceFile(path.join(dir, rel), f.data, { mode: f.mode });
    await fs.chmod(path.join(dir, rel), f.mode);
  }
  return ordered;
}
