import {
  compareVersions,
  fixedSectionIn,
  verifyArtifact,
  type ConfigBody,
  type DesiredState,
  type RefusalReason,
  type ReleaseBody,
  type RollbackBody,
  type SignedArtifact,
} from '@fieldmesh/protocol';
import type { AgentMemory } from './agent-memory.js';

/** One thing of a desired state this gateway will not do, and why (reported up, counted). */
export interface Refusal {
  kind: 'release' | 'config' | 'rollback';
  target: string;
  reason: RefusalReason;
  why: string;
}

export type Plan =
  | { kind: 'release'; body: ReleaseBody; bundlePath: string; rollbackOrder: number | null }
  | { kind: 'config'; body: ConfigBody; envelope: SignedArtifact<ConfigBody>; rollbackOrder: number | null };

export interface JudgeContext {
  releaseKeys: readonly string[];
  running: { version: string; configRevision: number | null };
  memory: Readonly<AgentMemory>;
  /** `uname -m` and Node ABI of this gateway: a bundle's native modules load only on the same. */
  machine: string;
  nodeAbi: string;
  /** Runs the real config validator on base + these sections: null when valid, else the error. */
  checkConfig(sections: Record<string, unknown>): string | null;
}

/** Largest bundle accepted, bytes: a release is ~30 MB; a signed `bytes` beyond this is refused before any download. */
export const MAX_BUNDLE_BYTES = 512 * 1024 * 1024;

/**
 * Decides what a desired state asks of this gateway: what to do (a release first, then a config;
 * each one switch and restart) and what to refuse. Pure: the agent does the I/O. Every artifact
 * is judged on its signature first; nothing unsigned informs any decision.
 */
export function judgeDesired(d: DesiredState, ctx: JudgeContext): { plans: Plan[]; refusals: Refusal[] } {
  const refusals: Refusal[] = [];
  const plans: Plan[] = [];
  let rollback: RollbackBody | null = null;
  if (d.rollback !== undefined) {
    const r = verifyArtifact<RollbackBody>(d.rollback, 'rollback', ctx.releaseKeys);
    if (r.ok) rollback = r.body;
    else refusals.push({ kind: 'rollback', target: targetOf(d.rollback, 'order'), reason: r.reason, why: r.why });
  }
  /** A downgrade is allowed by a signed rollback naming exactly this target with an unused order. */
  const permit = (target: { version?: string; configRevision?: number }): { order: number } | { reason: RefusalReason; why: string } | null => {
    if (!rollback) return null;
    const names = target.version !== undefined ? rollback.version === target.version : rollback.configRevision === target.configRevision;
    if (!names) return null;
    // A rollback naming a version and a revision is used by the release first; its config part
    // then comes with the same order, once the release part is running.
    const sameOrder = rollback.order === ctx.memory.rollbackOrder && target.configRevision !== undefined && rollback.version !== undefined && rollback.version === ctx.running.version;
    if (rollback.order <= ctx.memory.rollbackOrder && !sameOrder) return { reason: 'replayed-order', why: `rollback order ${rollback.order} is not above ${ctx.memory.rollbackOrder}, the last one used here` };
    return { order: rollback.order };
  };

  if (d.release !== undefined) {
    const r = verifyArtifact<ReleaseBody>(d.release, 'release', ctx.releaseKeys);
    const target = r.ok ? r.body.version : targetOf(d.release, 'version');
    const refuse = (reason: RefusalReason, why: string) => refusals.push({ kind: 'release', target, reason, why });
    if (!r.ok) refuse(r.reason, r.why);
    else if (r.body.version !== ctx.running.version) {
      const b = r.body;
      const older = isOlder(b.version, ctx.running.version);
      const p = older ? permit({ version: b.version }) : null;
      if (ctx.memory.failed.includes(b.version)) refuse('failed-before', `${b.version} was rolled back here before; it is not tried again`);
      else if (b.machine !== ctx.machine || b.nodeAbi !== ctx.nodeAbi) refuse('wrong-machine', `built for ${b.machine} Node ABI ${b.nodeAbi}; this gateway is ${ctx.machine} Node ABI ${ctx.nodeAbi}`);
      else if (b.bytes > MAX_BUNDLE_BYTES) refuse('malformed', `bundle of ${b.bytes} bytes is over the ${MAX_BUNDLE_BYTES}-byte limit`);
      else if (d.bundlePath === undefined) refuse('malformed', 'no bundlePath to fetch the bundle from');
      else if (older && p === null) refuse('downgrade', `${b.version} is older than the running ${ctx.running.version} and no signed rollback order names it`);
      else if (p !== null && 'reason' in p) refuse(p.reason, p.why);
      else plans.push({ kind: 'release', body: b, bundlePath: d.bundlePath, rollbackOrder: p?.order ?? null });
    }
  }

  if (d.config !== undefined) {
    const r = verifyArtifact<ConfigBody>(d.config, 'config', ctx.releaseKeys);
    const target = r.ok ? String(r.body.revision) : targetOf(d.config, 'revision');
    const refuse = (reason: RefusalReason, why: string) => refusals.push({ kind: 'config', target, reason, why });
    if (!r.ok) refuse(r.reason, r.why);
    else if (r.body.revision !== ctx.running.configRevision) {
      const b = r.body;
      const older = ctx.running.configRevision !== null && b.revision < ctx.running.configRevision;
      const p = older ? permit({ configRevision: b.revision }) : null;
      const fixed = fixedSectionIn(b);
      let invalid: string | null = null;
      if (ctx.memory.failedConfig.includes(b.revision)) refuse('failed-before', `revision ${b.revision} was rolled back here before; it is not tried again`);
      else if (fixed !== null) refuse('section-not-allowed', `a config revision may not set ${fixed}`);
      else if (older && p === null) refuse('old-revision', `revision ${b.revision} is older than the running ${ctx.running.configRevision} and no signed rollback order names it`);
      else if (p !== null && 'reason' in p) refuse(p.reason, p.why);
      else if ((invalid = ctx.checkConfig(b.sections)) !== null) refuse('invalid-config', invalid);
      else plans.push({ kind: 'config', body: b, envelope: d.config as SignedArtifact<ConfigBody>, rollbackOrder: p?.order ?? null });
    }
  }
  return { plans, refusals };
}

/** Whether two plans install the same thing (the same release version, or the same config revision). */
export function samePlan(a: Plan, b: Plan): boolean {
  if (a.kind === 'release') return b.kind === 'release' && a.body.version === b.body.version;
  return b.kind === 'config' && a.body.revision === b.body.revision;
}

/** Whether `a` is an older release than `b`; a running version that is no release version (a dev tree) is older than any. */
function isOlder(a: string, b: string): boolean {
  try {
    return compareVersions(a, b) < 0;
  } catch {
    return false;
  }
}

/** A printable target of an artifact that failed its checks (its claims are not trusted, only shown). */
function targetOf(raw: unknown, field: string): string {
  const body = (raw as { body?: Record<string, unknown> } | null)?.body;
  const v = typeof body === 'object' && body !== null ? body[field] : undefined;
  const s = typeof v === 'string' || typeof v === 'number' ? String(v) : '?';
  return s.replace(/[^A-Za-z0-9._:+-]/g, '_').slice(0, 64) || '?';
}
