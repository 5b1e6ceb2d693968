/**
 * Resolving the effective configuration. Precedence, lowest first:
 * built-in defaults < per-setting environment variables (WEB_CONCURRENCY)
 * < config file (-c or --ini) < TSGW_CMD_ARGS < command line.
 * A higher source replaces a setting wholesale (lists included); within one
 * source, repeated list settings accumulate.
 */
import { resolve } from "node:path";
import { ConfigError } from "../errors.ts";
import type { ImportModule } from "../app/contract.ts";
import { type ClientCerts, defaultBind, type Listener, parseAddress, type TlsFiles } from "./address.ts";
import { parseArgv } from "./cli.ts";
import { cmdArgsLayer, envDefaultsLayer } from "./env.ts";
import type { Entry, Layer } from "./layer.ts";
import { type ActionName, actionsOf, camelCase, setting, type SettingDef, type SettingName, SETTINGS } from "./settings.ts";
import type { Config } from "./types.ts";

export interface ResolvedConfig {
  config: Config;
  /** where each setting's value came from, by setting name */
  sources: Record<string, string>;
  /** every listener, HTTP (bind) and uwsgi (socket), parsed */
  listeners: Listener[];
  warnings: string[];
  /** the command-line action asked for, if any */
  action?: ActionName;
  /** --status --json */
  json?: boolean;
  /** the action's value (the pidfile of --reload/--stop/--status) */
  actionValue?: string;
}

export interface ResolveInput {
  argv: readonly string[];
  env: Record<string, string | undefined>;
  cwd: string;
  importModule: ImportModule;
}

export async function resolveConfig(input: ResolveInput): Promise<ResolvedConfig> {
  const cli = parseArgv(input.argv, "command line");
  const action = actionsOf("exit").find((a) => has(cli, a));
  if (action) return finish([cli], input, action); // --help must work whatever else is wrong
  const manage = actionsOf("manage").find((a) => lastValue(cli, a) !== undefined);
  if (manage) return { ...finish([], input, manage), actionValue: lastValue(cli, manage) as string, json: has(cli, "json") };
  const cmdArgs = cmdArgsLayer(input.env);
  const layers: Layer[] = [envDefaultsLayer(input.env)];
  const pick = (name: SettingName) => lastValue(cli, name) ?? lastValue(cmdArgs, name);
  const tsFile = pick("config") as string | undefined;
  const iniFile = pick("ini") as string | undefined;
  if (tsFile && iniFile) throw new ConfigError("give either -c (TS/JS config) or --ini, not both", "command line");
  // each config reader (and the ini package) is loaded only where its kind of file is given:
  // every module costs start-up time and worker memory
  if (tsFile) layers.push(await (await import("./ts.ts")).loadTsConfig(tsFile, input.cwd, input.importModule));
  if (iniFile) layers.push((await import("./ini.ts")).loadIni(iniFile, input.cwd));
  layers.push(cmdArgs, cli);
  const second = actionsOf("check").find((a) => has(cli, a) || has(cmdArgs, a));
  return finish(layers, input, second);
}

function finish(layers: Layer[], input: ResolveInput, action?: ResolvedConfig["action"]): ResolvedConfig {
  const values: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const s of SETTINGS as readonly SettingDef[]) {
    values[s.name] = s.default;
    sources[s.name] = "default";
  }
  for (const layer of layers) {
    const fromLayer = new Map<string, Entry[]>();
    for (const e of layer.entries) fromLayer.set(e.setting.name, [...(fromLayer.get(e.setting.name) ?? []), e]);
    for (const [name, entries] of fromLayer) {
      const s = entries[0]!.setting;
      values[name] = s.type === "list" ? entries.flatMap((e) => e.value as string[]) : entries.at(-1)!.value;
      sources[name] = entries.at(-1)!.where;
    }
  }
  const warnings = layers.flatMap((l) => l.warnings);
  const resolved: ResolvedConfig = { config: toConfig(values), sources, listeners: [], warnings, action };
  // only the checks read the whole configuration
  if (action && !actionsOf("check").includes(action)) return resolved;
  validate(values, sources, warnings);
  const activated = socketActivation(input.env);
  if (!(values.bind as string[]).length && !(values.socket as string[]).length && !(values["http-socket"] as string[]).length && !activated.length) {
    const fallback = defaultBind(input.env);
    if (typeof fallback === "string") throw new ConfigError(fallback, "env PORT");
    values.bind = [fallback.bind];
    sources.bind = fallback.where;
    resolved.config = toConfig(values);
  }
  const parse = (setting: "bind" | "http-socket" | "socket", protocol: Listener["protocol"]) =>
    (values[setting] as string[]).map((text): Listener => {
      const address = parseAddress(text, input.cwd);
      if (typeof address === "string") throw new ConfigError(`bad ${setting} address ${address}`, sources[setting]);
      return { protocol, address };
    });
  // http-socket is HTTP for a proxy: served like bind, written like socket (a bare /path is a unix socket)
  const binds = parse("bind", "http");
  const certfile = values.certfile as string | null;
  const keyfile = values.keyfile as string | null;
  if (!certfile !== !keyfile) {
    throw new ConfigError(
      certfile ? "certfile needs keyfile (the certificate's private key)" : "keyfile needs certfile",
      sources[certfile ? "certfile" : "keyfile"],
    );
  }
  const tls: TlsFiles | undefined = certfile && keyfile
    ? {
      cert: resolve(input.cwd, certfile),
      key: resolve(input.cwd, keyfile),
      ...clientCerts(values, sources, input.cwd, warnings),
      ...(values.ciphers ? { ciphers: values.ciphers as string } : {}),
      setting: "certfile",
    }
    : undefined;
  if (tls) { for (const l of binds) l.tls = tls; }
  const https = (values.https as string[]).map((text) => httpsListener(text, input.cwd, sources.https));
  const given = [...binds, ...https, ...parse("http-socket", "http"), ...parse("socket", "uwsgi")];
  // systemd's sockets not named by a listener already (-b fd://3, --socket fd://4): HTTP, or uwsgi where LISTEN_FDNAMES says so
  const named = new Set(given.flatMap((l) => (l.address.kind === "fd" ? [l.address.fd] : [])));
  const inherited = activated.filter((a) => !named.has(a.fd)).map((a): Listener => {
    const listener: Listener = { protocol: a.name === "uwsgi" ? "uwsgi" : "http", address: { kind: "fd", fd: a.fd } };
    return tls && listener.protocol === "http" ? { ...listener, tls } : listener;
  });
  resolved.listeners = [...given, ...inherited];
  return resolved;
}

/**
 * The sockets systemd passed this process (socket activation: LISTEN_FDS
 * of them from fd 3, for LISTEN_PID, named by LISTEN_FDNAMES); none when
 * they were meant for another process.
 */
export function socketActivation(env: Record<string, string | undefined>): { fd: number; name: string }[] {
  const count = Number(env.LISTEN_FDS);
  if (!(count > 0) || Number(env.LISTEN_PID) !== process.pid) return [];
  const names = (env.LISTEN_FDNAMES ?? "").split(":");
  return Array.from({ length: count }, (_, i) => ({ fd: 3 + i, name: names[i] ?? "" }));
}

/** --cert-reqs's names, in the order of Gunicorn's numbers for them (0, 1, 2) */
const CLIENT_CERTS: readonly ClientCerts[] = ["none", "optional", "required"];

/** --ca-certs and --cert-reqs (Gunicorn's numbers 0, 1, 2 too) for the --bind listeners */
function clientCerts(values: Record<string, unknown>, sources: Record<string, string>, cwd: string, warnings: string[]): Pick<TlsFiles, "ca" | "clientCerts"> {
  const reqs = values["cert-reqs"] as string;
  const wanted = CLIENT_CERTS[/^\d$/.test(reqs) ? Number(reqs) : CLIENT_CERTS.indexOf(reqs as ClientCerts)]!;
  const ca = values["ca-certs"] as string | null;
  if (wanted !== "none" && !ca) {
    throw new ConfigError(`cert-reqs ${wanted} needs ca-certs (the CA certificates client certificates chain to)`, sources["cert-reqs"]);
  }
  if (ca && wanted === "none") {
    warnings.push(`${sources["ca-certs"]}: ca-certs has no effect while cert-reqs is none (as in Gunicorn): give --cert-reqs optional or required`);
    return { clientCerts: "none" };
  }
  return ca ? { ca: resolve(cwd, ca), clientCerts: wanted } : { clientCerts: "none" };
}

/** uWSGI's --https ADDR,CERT,KEY[,CIPHERS[,CA]]: a CA asks for client certificates, !CA requires them */
function httpsListener(text: string, cwd: string, where: string | undefined): Listener {
  const [addr, cert, key, ciphers, ca, ...rest] = text.split(",").map((p) => p.trim());
  if (!addr || !cert || !key || rest.length > 0) throw new ConfigError(`bad https value "${text}": expected ADDR,CERT,KEY[,CIPHERS[,CA]]`, where);
  const address = parseAddress(addr, cwd);
  if (typeof address === "string") throw new ConfigError(`bad https address ${address}`, where);
  const required = ca?.startsWith("!") ?? false;
  const caFile = required ? ca!.slice(1) : ca;
  const tls: TlsFiles = {
    cert: resolve(cwd, cert),
    key: resolve(cwd, key),
    ...(caFile ? { ca: resolve(cwd, caFile), clientCerts: required ? "required" : "optional" } : { clientCerts: "none" }),
    ...(ciphers ? { ciphers } : {}),
    setting: "https",
  };
  return { protocol: "http", address, tls };
}

function validate(values: Record<string, unknown>, sources: Record<string, string>, warnings: string[]): void {
  if (values.master === false && (values.workers as number) > 1) {
    throw new ConfigError("several workers need the master process, but master is off", sources.workers);
  }
  for (const s of SETTINGS as readonly SettingDef[]) {
    if (sources[s.name] === "default") continue;
    const v = values[s.name];
    const problem = (s.check as ((v: unknown) => string | undefined) | undefined)?.(v);
    if (problem) throw new ConfigError(`${s.name}: ${problem}`, sources[s.name]);
    if (s.noEffect) warnings.push(`${sources[s.name]}: ${s.name} has no effect: ${s.noEffect}`);
    if (s.needsMaster && values.master === false) {
      throw new ConfigError(`${s.name} needs the master process, but master is off (${sources.master})`, sources[s.name]);
    }
  }
}

function toConfig(values: Record<string, unknown>): Config {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS as readonly SettingDef[]) if (!s.action) out[camelCase(s.name)] = values[s.name];
  return out as Config;
}

function has(layer: Layer, name: SettingName): boolean {
  return lastValue(layer, name) === true;
}

function lastValue(layer: Layer, name: SettingName): unknown {
  const s = setting(name);
  return layer.entries.filter((e) => e.setting === s).at(-1)?.value;
}
