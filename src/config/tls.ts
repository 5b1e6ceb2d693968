/**
 * TLS certificates and keys as tsgw reads them: checked once at start (a
 * missing file, a key that does not match, a wrong password: one line, exit
 * 1; an expired certificate: a warning, still served, as nginx does), and
 * read again by each worker when it listens, so a renewed certificate is
 * served after a reload. The key is decrypted here, so every runtime's
 * server gets a plain PEM (Deno.serve takes no password).
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { ConfigError } from "../errors.ts";
import type { TlsFiles, TlsMaterial } from "./address.ts";
import type { ResolvedConfig } from "./load.ts";

function readPem(path: string, what: string, where: string | undefined): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read the TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, where);
  }
}

/** Read, parse and decrypt once; a problem is one line naming the file (and the setting's `where`). */
function loadTls(files: TlsFiles, config: TlsConfig, where: string | undefined): { material: TlsMaterial; expires: Date } {
  const password = config.keyfilePassword;
  const cert = readPem(files.cert, "certificate", where);
  const keyText = readPem(files.key, "key", where);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new ConfigError(`${files.cert} holds no PEM certificate`, where);
  }
  // told by the PEM itself (PKCS#8's "ENCRYPTED PRIVATE KEY", or the older "Proc-Type: 4,ENCRYPTED"): each runtime's
  // crypto words a missing or wrong password differently
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(keyText);
  if (encrypted && password === null) {
    throw new ConfigError(`the key ${files.key} is encrypted: give its password (--keyfile-password or TSGW_KEYFILE_PASSWORD)`, where);
  }
  let key;
  try {
    key = createPrivateKey(encrypted ? { key: keyText, passphrase: password! } : keyText);
  } catch {
    throw new ConfigError(encrypted ? `wrong password for the key ${files.key}` : `${files.key} holds no usable PEM private key`, where);
  }
  if (!x509.checkPrivateKey(key)) throw new ConfigError(`the key ${files.key} does not match the certificate ${files.cert}`, where);
  const material: TlsMaterial = {
    cert,
    key: key.export({ type: "pkcs8", format: "pem" }) as string,
    ...(files.ca ? { ca: readCa(files.ca, where) } : {}),
    clientCerts: files.clientCerts,
    ...(files.ciphers ? { ciphers: files.ciphers } : {}),
    h2: config.httpProtocols.includes("h2"),
  };
  return { material, expires: new Date(x509.validTo) };
}

function readCa(path: string, where: string | undefined): string {
  const text = readPem(path, "CA certificates", where);
  try {
    new X509Certificate(text);
  } catch {
    throw new ConfigError(`${path} holds no PEM certificate (the CA certificates for client certificates)`, where);
  }
  return text;
}

/** What a worker serves a listener with: the files read now (so a reload serves renewed ones). */
export function readTls(files: TlsFiles, config: TlsConfig, where?: string): TlsMaterial {
  return loadTls(files, config, where).material;
}

/** the settings that apply to every TLS listener */
type TlsConfig = Pick<ResolvedConfig["config"], "keyfilePassword" | "httpProtocols">;

/**
 * The start-up check of every TLS listener (by the command, not by each
 * worker, which reads the files as it listens): throws for what cannot be
 * served, returns warnings for what can.
 */
export function checkTls(resolved: ResolvedConfig, refusal: (tls: TlsMaterial) => string | undefined): string[] {
  const warnings: string[] = [];
  for (const { tls } of resolved.listeners) {
    if (!tls) continue;
    const where = resolved.sources[tls.setting];
    const { material, expires } = loadTls(tls, resolved.config, where);
    const refused = refusal(material);
    if (refused) throw new ConfigError(refused, where);
    if (material.ciphers) checkCiphers(material.ciphers, where);
    if (expires.getTime() < Date.now()) {
      warnings.push(`${tls.cert}: the certificate expired on ${expires.toISOString().slice(0, 10)}; serving it anyway (clients will refuse it)`);
    }
  }
  return warnings;
}

/** An OpenSSL cipher list that matches nothing fails every handshake: refused at start. */
function checkCiphers(ciphers: string, where: string | undefined): void {
  try {
    createSecureContext({ ciphers });
  } catch (err) {
    throw new ConfigError(`ciphers "${ciphers}": ${(err as Error).message}`, where);
  }
}
