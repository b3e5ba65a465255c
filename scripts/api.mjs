// The API reports of the three public entry points (`mtlskit`, `mtlskit/testing`,
// `mtlskit/emulator`), made by @microsoft/api-extractor from the built declarations in
// dist/types (`npm run build` makes them).
//
//   node scripts/api.mjs          writes etc/<entry>.api.md   (`npm run api`)
//   node scripts/api.mjs --check  fails when a committed report differs from the declarations
//                                 (`npm test` runs it after the build)
//
// A change to the public surface thus shows in review as a change to etc/*.api.md.
import { CompilerState, Extractor, ExtractorConfig } from "@microsoft/api-extractor";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as path from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const check = process.argv.includes("--check");
const entries = [
  { name: "mtlskit", types: "dist/types/index.d.ts" },
  { name: "mtlskit-testing", types: "dist/types/testing/index.d.ts" },
  { name: "mtlskit-emulator", types: "dist/types/emulator/index.d.ts" },
];

function prepare(entry) {
  const main = path.join(root, entry.types);
  if (!existsSync(main)) {
    console.error(`api: ${entry.types} is missing: run \`npm run build\` first.`);
    process.exit(2);
  }
  return ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: main,
      bundledPackages: [],
      compiler: { tsconfigFilePath: path.join(root, "tsconfig.json") },
      apiReport: { enabled: true, reportFileName: `${entry.name}.api.md`, reportFolder: path.join(root, "etc"), reportTempFolder: path.join(root, "node_modules/.cache/api-extractor") },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      newlineKind: "lf",
      messages: {
        compilerMessageReporting: { default: { logLevel: "warning" } },
        extractorMessageReporting: {
          default: { logLevel: "warning" },
          // Types that public signatures name without exporting them show in the report as such.
          "ae-forgotten-export": { logLevel: "none", addToApiReportFile: true },
          "ae-missing-release-tag": { logLevel: "none" },
          "ae-unresolved-link": { logLevel: "none" },
        },
        tsdocMessageReporting: { default: { logLevel: "none" } },
      },
    },
    configObjectFullPath: path.join(root, "api-extractor.json"),
    packageJsonFullPath: path.join(root, "package.json"),
  });
}

const configs = entries.map(prepare);
// One TypeScript program for the three entry points (most of the time is spent building it).
const compilerState = CompilerState.create(configs[0], { additionalEntryPoints: configs.slice(1).map((c) => c.mainEntryPointFilePath) });
const stale = [];
for (const [i, entry] of entries.entries()) {
  const config = configs[i];
  const before = existsSync(config.reportFilePath) ? readFileSync(config.reportFilePath, "utf8") : undefined;
  const result = Extractor.invoke(config, { localBuild: !check, compilerState, showVerboseMessages: false, messageCallback: (m) => {
    // Only the errors; the report itself is what matters.
    if (m.logLevel !== "error") m.handled = true;
  } });
  const after = existsSync(config.reportFilePath) ? readFileSync(config.reportFilePath, "utf8") : undefined;
  if (check ? result.apiReportChanged || before === undefined : !result.succeeded) stale.push(entry.name);
  else if (!check && before !== after) console.log(`api: etc/${entry.name}.api.md updated`);
}
if (stale.length > 0) {
  if (check) {
    console.error(`api: the public API changed and etc/${stale.join(".api.md, etc/")}.api.md ${stale.length > 1 ? "are" : "is"} stale: run \`npm run api\` and commit the report${stale.length > 1 ? "s" : ""} (review the change: it is what library users see).`);
    process.exit(1);
  }
  console.error(`api: api-extractor failed for ${stale.join(", ")}`);
  process.exit(3);
}
if (check) console.log("api: etc/*.api.md match the built declarations");
