import { posix } from 'node:path';
import { DEFAULT_SERVICE_LAYOUT, type ServiceLayout } from '../service/unit.js';
import { SH_FM_LINK } from './sh-link.js';

/**
 * The shell functions that lay a gateway out for side-by-side releases: first boot (firstrun.sh)
 * includes them, and the test sandboxes run the very same text under a temporary $FM_ROOT, so
 * the layout the tests exercise is the one a card gets.
 *
 * - `fm_unpack_release BUNDLE`: the bundle's `fieldmesh/` directory to `releases/<version>/`
 *   (version from its bundle-manifest.json), unpacked beside it first and renamed in when
 *   complete, so a release directory is never half there. Already there: nothing to do.
 * - `fm_install_first_release BUNDLE`: unpacks, points `releases/current` at it and `app` at
 *   `releases/current` (the path from before releases were side by side keeps working).
 * - `fm_install_launcher FILE`: the launcher, from the image (never from a release).
 * - `fm_own_releases USER`: the releases directory to the service user, which unpacks and
 *   switches later releases itself.
 *
 * POSIX sh, `set -u` safe; each function returns non-zero on failure and says why on stderr.
 */
export function renderReleaseInstall(layout: Partial<ServiceLayout> = {}): string {
  const l: ServiceLayout = { ...DEFAULT_SERVICE_LAYOUT, ...layout };
  for (const [key, value] of Object.entries({ appDir: l.appDir, releasesDir: l.releasesDir, launcherPath: l.launcherPath })) {
    if (!/^\/[A-Za-z0-9_./@+-]+$/u.test(value)) throw new Error(`install layout ${key}=${JSON.stringify(value)}: use a plain absolute path`);
  }
  const appTarget = posix.relative(posix.dirname(l.appDir), posix.join(l.releasesDir, 'current'));
  return `# --- side-by-side releases (hardware/src/image/fleet/install.ts)
FM_RELEASES="\${FM_ROOT:-}${l.releasesDir}"
FM_APP="\${FM_ROOT:-}${l.appDir}"
FM_LAUNCHER="\${FM_ROOT:-}${l.launcherPath}"

fm_bundle_version() {
  fm_v=$(tar -xzOf "$1" fieldmesh/bundle-manifest.json | head -c 65536 | grep -o '"version" *: *"[^"]*"' | head -n 1 | sed 's/.*"\\([^"]*\\)"$/\\1/')
  case "$fm_v" in '' | *[!0-9.]* | .* | *. | *..*) echo "no release version in $1 (fieldmesh/bundle-manifest.json)" >&2; return 1 ;; esac
  echo "$fm_v"
}

${SH_FM_LINK}

fm_unpack_release() {
  fm_v=$(fm_bundle_version "$1") || return 1
  [ -d "$FM_RELEASES/$fm_v" ] && return 0
  fm_part="$FM_RELEASES/.$fm_v.partial"
  mkdir -p "$FM_RELEASES" && rm -rf "$fm_part" && mkdir "$fm_part" &&
    tar -xzf "$1" -C "$fm_part" --strip-components=1 --no-same-owner &&
    mv -T "$fm_part" "$FM_RELEASES/$fm_v"
}

fm_install_first_release() {
  fm_unpack_release "$1" || return 1
  fm_v=$(fm_bundle_version "$1") || return 1
  fm_link "$FM_RELEASES" current "$fm_v" || return 1
  # An app directory from before releases were side by side is kept aside, not deleted.
  if [ -d "$FM_APP" ] && [ ! -L "$FM_APP" ]; then rm -rf "$FM_APP.pre-releases" && mv -T "$FM_APP" "$FM_APP.pre-releases"; fi
  mkdir -p "$(dirname "$FM_APP")" && fm_link "$(dirname "$FM_APP")" "$(basename "$FM_APP")" ${shq(appTarget)}
}

fm_install_launcher() {
  install -D -m 755 "$1" "$FM_LAUNCHER"
}

fm_own_releases() {
  chown -R "$1:$1" "$FM_RELEASES"
}
`;
}

const shq = (s: string) => `'${s.replace(/'/gu, `'\\''`)}'`;
