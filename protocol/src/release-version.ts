/**
 * Release versions are `MAJOR.MINOR.PATCH`, plain numbers (no pre-release or build suffix): a
 * gateway compares them to refuse downgrades, so their order must be total and obvious. Each part
 * is at most 6 digits, which keeps them exact numbers and a version safe as a path segment.
 */
const VERSION = /^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/;

export function isReleaseVersion(s: unknown): s is string {
  return typeof s === 'string' && VERSION.test(s);
}

/** -1, 0 or 1 as `a` is older than, the same as, or newer than `b` ("1.10.0" is newer than "1.9.3"). */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  const pa = VERSION.exec(a);
  const pb = VERSION.exec(b);
  if (!pa || !pb) throw new RangeError(`not a release version: ${JSON.stringify(pa ? b : a)}`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
