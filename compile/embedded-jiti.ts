/**
 * jiti for the Node single executable, which has no node_modules to load it
 * from: its two files carried as text and compiled on the first TypeScript
 * app or config. Bundled as code, jiti and its Babel transform (2.3 MB) were
 * parsed by every process of the binary, used or not. As text, made a string
 * only on that first use, they cost the script's bytes, which processes of one
 * binary share. Measured (2026-12-07, a master of `-w 1` after a second of
 * load): 64.6 MB, 21.7 MB of it its own, before; 59.2 MB, 12.5 MB its own,
 * after; exec to a first response 88 -> 62 ms with --no-master. Lent to
 * src/runtime/node.ts under a symbol, as bin/tsgw.mjs lends its import().
 */
import { createRequire } from "node:module";
import { compileFunction } from "node:vm";

type CreateJiti = typeof import("jiti").createJiti;

/** A CommonJS file's exports, from its text: it requires nothing but Node's own modules. */
function commonJs(text: string, name: string): unknown {
  const filename = `${process.execPath}/${name}`;
  const module = { exports: {} as unknown };
  compileFunction(text, ["exports", "require", "module", "__filename", "__dirname"], { filename })(
    module.exports,
    createRequire(filename),
    module,
    filename,
    process.execPath,
  );
  return module.exports;
}

let createJiti: CreateJiti | undefined;

(globalThis as { [key: symbol]: unknown })[Symbol.for("tsgw.jiti")] = async (): Promise<CreateJiti> => {
  if (createJiti) return createJiti;
  // written by compile/build.ts before it bundles this: each text a function's string, made only when called
  // @ts-ignore: a file of the build, not of the sources
  const texts = (await import("../dist/sea/jiti-text.cjs")) as { jiti(): string; babel(): string };
  const make = commonJs(texts.jiti(), "jiti.cjs") as (id: string, options: object, host: object) => ReturnType<CreateJiti>;
  const transform = commonJs(texts.babel(), "babel.cjs");
  // what jiti's own entry (jiti/static) hands it: its transform, and the host's import() and createRequire
  createJiti = (id, options = {}) =>
    make(id, { transform, ...options }, {
      onError: (err: unknown) => {
        throw err;
      },
      nativeImport: (specifier: string) => import(specifier),
      createRequire,
    });
  return createJiti;
};
