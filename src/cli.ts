#!/usr/bin/env -S deno run -A
/**
 * The `tsgw` command. citty gives the command its shape (meta, run); the
 * arguments themselves are parsed by src/config from the settings table,
 * because settings need repeatable flags, INI/TS/env layering and
 * file:line errors that a generic parser cannot give.
 */
import { defineCommand, runCommand } from "citty";
import { resolveConfig, type ResolvedConfig } from "./config/load.ts";
import { renderHelp, renderPrintConfig } from "./config/render.ts";
import { TsgwError, describeError, EXIT } from "./errors.ts";
import { createLogger, type Logger } from "./log/logger.ts";
import { currentRuntime } from "./runtime/index.ts";
import type { Runtime } from "./runtime/types.ts";
import { VERSION } from "./version.ts";
import { loadConfiguredApp, prepareProcess, serve } from "./worker/serve.ts";

const command = defineCommand({
  meta: { name: "tsgw", version: VERSION, description: "Serve JavaScript and TypeScript web apps on Node, Bun and Deno" },
  async run({ rawArgs }) {
    const runtime = await currentRuntime();
    const cwd = process.cwd();
    const resolved = await resolveConfig({ argv: rawArgs, env: process.env, cwd, importModule: runtime.importModule });
    if (resolved.action === "help") return void process.stdout.write(renderHelp(VERSION));
    if (resolved.action === "version") return void process.stdout.write(`tsgw ${VERSION} (${runtime.name} ${runtime.version})\n`);
    if (resolved.action === "print-config") return void process.stdout.write(renderPrintConfig(resolved));
    const log = createLogger(resolved.config.logLevel);
    for (const w of resolved.warnings) log.warn(w);
    if (!resolved.config.app) {
      throw new TsgwError("no app given: tsgw APP (e.g. tsgw demo:app), or module = ... in the INI file; see tsgw --help");
    }
    await start(runtime, resolved, cwd, log);
  },
});

async function start(runtime: Runtime, resolved: ResolvedConfig, cwd: string, log: Logger): Promise<void> {
  if (resolved.action !== "check-config") log.info(`Starting tsgw ${VERSION} on ${runtime.name} ${runtime.version}`);
  const appCwd = prepareProcess(resolved, cwd);
  const app = await loadConfiguredApp(runtime, resolved, appCwd, log);
  if (resolved.action === "check-config") {
    log.info("configuration OK");
    process.exit(EXIT.ok);
  }
  await serve(runtime, resolved, app, log);
}

export async function main(argv: string[]): Promise<void> {
  try {
    await runCommand(command, { rawArgs: argv });
  } catch (err) {
    if (err instanceof TsgwError) {
      process.stderr.write(`tsgw: error: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`tsgw: internal error: ${describeError(err)}\n`);
    if (process.env.TSGW_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
    process.exit(EXIT.usage);
  }
}

// `deno run -A src/cli.ts` and `bun src/cli.ts` run this file directly; bin/tsgw.mjs imports it.
if (import.meta.main) await main(process.argv.slice(2));
