/**
 * import() of a module named at run time (a `node:*` module loaded on first
 * need, an app's or config's file, jiti).
 *
 * On Node, bin/tsgw.mjs runs the prebuilt bundle through `vm.Script` with
 * V8's code cache, which saves 10-20 ms of every start. Node 20 loses
 * import()'s loader for code compiled from a cache ("A dynamic import
 * callback was not specified"), so that entry hands over its own import(),
 * an ES module's, under this symbol. Everywhere else (Bun, Deno, the
 * sources, the binaries) the symbol is unset and this is plain import().
 * compile/build.ts refuses a bundle with an import() that does not go
 * through here.
 */
const HOST_IMPORT = Symbol.for("tsgw.import");

export function dynamicImport<T = Record<string, unknown>>(specifier: string): Promise<T> {
  const hostImport = (globalThis as { [HOST_IMPORT]?: (specifier: string) => Promise<unknown> })[HOST_IMPORT];
  return (hostImport ? hostImport(specifier) : import(specifier)) as Promise<T>;
}
