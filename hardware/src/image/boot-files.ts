/**
 * The Raspberry Pi boot partition's own files: how to recognise one, and the two edits that
 * enable the serial port and hook in first boot. Both edits are text transforms that return
 * their input unchanged when already applied, which is what makes `fieldmesh image` idempotent.
 */

/** Boot files any Raspberry Pi OS image has, one of each group at least. */
const FIRMWARE = /^(start\d?(x|cd|db)?\.elf|fixup\d?(x|cd|db)?\.dat|bootcode\.bin|bcm27\d\d-rpi-.*\.dtb|kernel(7l?|8|_2712)?\.img)$/iu;

/** Why a file list is not a Pi boot partition, or undefined when it is one. */
export function notPiBootReason(names: string[]): string | undefined {
  const lower = names.map((n) => n.toLowerCase());
  if (!lower.includes('config.txt')) return 'no config.txt';
  if (!lower.includes('cmdline.txt')) return 'no cmdline.txt';
  if (!names.some((n) => FIRMWARE.test(n))) return 'no firmware, kernel or bcm27xx device tree files';
  return undefined;
}

/** Serial consoles the kernel may own; removed so the UART is free for sensors. */
const SERIAL_CONSOLE = /^console=(serial\d|ttyAMA\d+|ttyS\d+)(,\d+\w*)?$/u;

/**
 * Edits cmdline.txt (one line): drops serial consoles and appends the first-boot hook exactly as
 * Raspberry Pi Imager does (`systemd.run=` runs the script once as root early in boot, then
 * `systemd.run_success_action=reboot`). firstrun.sh strips the hook when done.
 */
export function editCmdline(text: string, firstrunPath: string): string {
  const line = text.split('\n')[0]!.trim();
  const tokens = line.split(/\s+/u).filter((t) => t !== '' && !SERIAL_CONSOLE.test(t));
  if (!tokens.some((t) => t.startsWith('systemd.run='))) {
    tokens.push(`systemd.run=${firstrunPath}`, 'systemd.run_success_action=reboot', 'systemd.unit=kernel-command-line.target');
  }
  return tokens.join(' ') + '\n';
}

export const CONFIG_TXT_BLOCK = [
  '',
  '# fieldmesh: UART for serial sensors. enable_uart=1 also pins the core clock so the mini UART',
  '# (ttyS0) keeps its baud rate; on the Pi 5, uart0 puts ttyAMA0 on GPIO 14/15.',
  '[pi5]',
  'dtparam=uart0=on',
  '[all]',
  'enable_uart=1',
  '',
].join('\n');

/** Appends the UART block once; later sections could override it, so it goes last. */
export function editConfigTxt(text: string): string {
  if (text.includes(CONFIG_TXT_BLOCK)) return text;
  return text.replace(/\n*$/u, '\n') + CONFIG_TXT_BLOCK;
}
