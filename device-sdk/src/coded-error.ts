/**
 * The shape every component's error catalog shares (after fastify's
 * `FST_ERR_…`): a stable `FM_ERR_…` code code branches on, and a "how to solve" text. A catalog
 * entry is either that text or `{ meaning, solve }`.
 */
export type CatalogEntry = string | { readonly meaning: string; readonly solve: string };
export type ErrorCatalog<C extends string> = { readonly [K in C]: CatalogEntry };

/** The "how to solve" text of a catalog entry. */
export function howToSolve(entry: CatalogEntry): string {
  return typeof entry === 'string' ? entry : entry.solve;
}

/** How a component's messages read: `detail`, the code and the fix, in its established order. */
export type CodedMessageFormat = (code: string, detail: string, how: string) => string;

/** `detail (FM_ERR_X: how to solve)`: the default, so a log line alone tells the fix. */
export const detailCodeHow: CodedMessageFormat = (code, detail, how) => `${detail} (${code}: ${how})`;
/** `detail. how to solve` (the code is on `err.code`). */
export const detailThenHow: CodedMessageFormat = (_code, detail, how) => `${detail}. ${how}`;
/** `FM_ERR_X: detail` (the fix is in the catalog). */
export const codeThenDetail: CodedMessageFormat = (code, detail) => `${code}: ${detail}`;

/** An error with a stable code from a catalog and the catalog's "how to solve" text. */
export class CodedError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    /** The catalog's "how to solve" text for `code`. */
    readonly how: string,
    message: string,
  ) {
    super(message);
    this.name = 'CodedError';
  }
}

/**
 * A component's error class bound to its catalog: `new XError(code, detail)` with `name`
 * `XError`. Extend the result (`class XError extends codedErrorClass('XError', X_ERRORS) {}`)
 * so `instanceof XError` names the component.
 */
export function codedErrorClass<C extends string>(name: string, catalog: ErrorCatalog<C>, format: CodedMessageFormat = detailCodeHow) {
  return class extends CodedError<C> {
    constructor(code: C, detail: string) {
      const how = howToSolve(catalog[code]);
      super(code, how, format(code, detail, how));
      this.name = name;
    }
  };
}
