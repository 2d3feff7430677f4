/**
 * The one error shape of every component (after fastify's `FST_ERR_…` catalog): a stable
 * `FM_ERR_…` code that code branches on, what it means, and how to solve it. Each component keeps
 * one catalog of these entries beside its code; docs/ERRORS.md is generated from all of them
 * (`npm run docs:errors`), so a code, its meaning and its fix are written once.
 */
export interface CatalogEntry {
  /** What went wrong, in one sentence, without the particulars of one occurrence. */
  readonly meaning: string;
  /** What the reader does about it (or that nothing needs doing, and why). */
  readonly howToSolve: string;
}

export type ErrorCatalog<C extends string> = { readonly [K in C]: CatalogEntry };

/**
 * The one message format: `detail (FM_ERR_…: how to solve)`. The detail comes first (it names the
 * bad value or key), so a log line alone tells what happened, the code to search for, and the fix.
 */
export function codedMessage(code: string, detail: string, howToSolve: string): string {
  return `${detail} (${code}: ${howToSolve})`;
}

/** An error with a stable code from a component's catalog. */
export class CodedError<C extends string = string> extends Error {
  /** The catalog's "how to solve" text for `code`. */
  readonly how: string;
  /** The catalog's meaning of `code`. */
  readonly meaning: string;

  constructor(
    readonly code: C,
    catalog: ErrorCatalog<C>,
    /** What happened this time: the bad value, key or peer. */
    detail: string,
  ) {
    const entry = catalog[code];
    super(codedMessage(code, detail, entry.howToSolve));
    this.how = entry.howToSolve;
    this.meaning = entry.meaning;
    this.name = 'CodedError';
  }
}

/**
 * A component's error class bound to its catalog: `new XError(code, detail)` with `name`
 * `XError`. Extend the result (`class XError extends codedErrorClass('XError', X_ERRORS) {}`)
 * so `instanceof XError` names the component.
 */
export function codedErrorClass<C extends string>(name: string, catalog: ErrorCatalog<C>) {
  return class extends CodedError<C> {
    constructor(code: C, detail: string) {
      super(code, catalog, detail);
      this.name = name;
    }
  };
}

/**
 * Like codedErrorClass, for errors about one config key or parameter: `new XError(code, key,
 * detail)` reads `key: detail (FM_ERR_…: how to solve)`, and keeps `key`, `detail` and `solve`
 * for callers that show them apart (a config check listing every bad key).
 */
export function keyedErrorClass<C extends string>(name: string, catalog: ErrorCatalog<C>) {
  return class extends CodedError<C> {
    readonly solve: string;
    constructor(
      code: C,
      /** The config path or parameter, e.g. `rules[2].hysteresis`. */
      readonly key: string,
      /** What is wrong with the value, without the key. */
      readonly detail: string,
    ) {
      super(code, catalog, `${key}: ${detail}`);
      this.name = name;
      this.solve = this.how;
    }
  };
}

/** One component's catalog, as docs/ERRORS.md lists it. */
export interface ComponentErrors {
  /** Package and folder, e.g. `gateway/store`. */
  readonly component: string;
  /** The error class that carries these codes (or the place that reports them, for codes never thrown). */
  readonly reportedBy: string;
  readonly catalog: ErrorCatalog<string>;
}
