/**
 * V8 heap flags for a gateway's memory budget (BoardDetection.memoryBudgetMb), so the process
 * stays inside what the board can spare instead of V8 sizing its heap from the machine's RAM.
 *
 * - `--max-semi-space-size` (MiB): the young generation is three semi-spaces' worth (two
 *   semi-spaces plus the new large-object space), and V8 grows it to 16 MiB per semi-space
 *   under allocation pressure: up to ~48 MiB of RSS that a 1 Hz gateway never needs. 1 MiB on
 *   budgets up to 128 MiB (Zero 2 W), 2 MiB up to 256 MiB, 4 MiB above: more frequent but
 *   shorter scavenges in exchange (the footprint bench measures the CPU this costs).
 * - `--lite-mode` on budgets up to 128 MiB: no optimising compiler and no feedback vectors until
 *   a function is hot. Measured with the footprint bench (test/bench/NOTES.md): 8–9 MiB less RSS
 *   at 1k series at 1 Hz, which is what brings a Zero 2 W's gateway under its budget, for about
 *   30% more CPU per reading there (23 vs 18 µs on the bench machine); at 10k series 12 MiB less
 *   for twice the CPU, and 2.7× in a burst (SenML packs at full speed). A board that needs the
 *   CPU more than the RAM drops it from /etc/fieldmesh/node.env.
 *   Not allowed in NODE_OPTIONS, so the flags go on node's command line (the unit's $FM_V8_FLAGS).
 * - `--max-old-space-size` (MiB): half the budget. The rest is Node's own floor (~40 MiB RSS for
 *   an idle `node -e`), SQLite's page cache and buffers outside the heap. A leak then ends in a
 *   V8 heap-out-of-memory crash that systemd restarts, before the kernel's OOM killer picks a
 *   process on a board shared with other software.
 */
export function v8HeapFlags(memoryBudgetMb: number): string[] {
  if (!Number.isFinite(memoryBudgetMb) || memoryBudgetMb < 32) throw new Error(`memory budget ${memoryBudgetMb} MiB: use a number >= 32`);
  const semi = memoryBudgetMb <= 128 ? 1 : memoryBudgetMb <= 256 ? 2 : 4;
  const old = Math.floor(memoryBudgetMb / 2);
  return [`--max-semi-space-size=${semi}`, `--max-old-space-size=${old}`, ...(memoryBudgetMb <= 128 ? ['--lite-mode'] : [])];
}
