/**
 * The sh function both the launcher and first boot's release install flip symlinks with
 * (`releases/current`, the config overlay, `app`). One text, so a fix to how a link is replaced
 * reaches both scripts: a fresh link beside the old one, then rename(2) over it (`mv -T`), so
 * the name always points at the old or the new target, never at nothing.
 */
export const SH_FM_LINK = `# fm_link DIR NAME VALUE: DIR/NAME -> VALUE, replaced by rename(2), never missing in between.
fm_link() {
  rm -f "$1/$2.new" && ln -s "$3" "$1/$2.new" && mv -T -f "$1/$2.new" "$1/$2"
}`;
