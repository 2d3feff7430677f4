import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { canonicalJson, fixedSectionIn, verifyArtifact, type ConfigBody, type FleetBody, type FleetKind, type ReleaseBody, type RollbackBody, type SignedArtifact } from '@fieldmesh/protocol';
import type { Clock } from '@fieldmesh/device-sdk';
import { syncDir, syncFile, writeFileDurably } from '@fieldmesh/device-sdk/durable-file';
import { CloudHttpError } from '../http/errors.js';
import type { FleetStore, StoredBundle, StoredConfig, StoredRelease } from './fleet-store.js';

/** Release bundles and signed envelopes on disk, under `<dataDir>/fleet/`. */
export interface ReleaseFiles {
  bundle(version: string): string;
}

/**
 * Where releases and config revisions come in: bundles streamed to disk under a size cap, their
 * hash measured on the way; envelopes checked (shape always, signature against
 * `fleet.releaseKeys` when set) and matched to the bundle. A published version or revision is
 * immutable: the same content again is accepted, other content is a 409. A refused or broken
 * upload leaves no file that counts: bundles are written to a temporary name and renamed only
 * when complete; a release exists only once its envelope is stored.
 */
export class ReleaseLibrary implements ReleaseFiles {
  private readonly releasesDir: string;
  private readonly configsDir: string;

  constructor(
    dir: string,
    private readonly store: FleetStore,
    private readonly releaseKeys: readonly string[],
    private readonly maxBundleBytes: number,
    private readonly clock: Clock,
  ) {
    this.releasesDir = join(dir, 'releases');
    this.configsDir = join(dir, 'configs');
    mkdirSync(this.releasesDir, { recursive: true });
    mkdirSync(this.configsDir, { recursive: true });
    // Temporary files of uploads cut off by a crash.
    for (const f of readdirSync(this.releasesDir)) if (f.includes('.upload-')) rmSync(join(this.releasesDir, f), { force: true });
  }

  bundle(version: string): string {
    return join(this.releasesDir, `${version}.tgz`);
  }

  /** Streams an upload body to disk. `version` is a checked release version (no path characters). */
  async receiveBundle(version: string, body: NodeJS.ReadableStream, declaredBytes: number | null): Promise<{ bundle: StoredBundle; created: boolean }> {
    if (declaredBytes !== null && declaredBytes > this.maxBundleBytes) throw new CloudHttpError(413, `bundle of ${declaredBytes} bytes is over fleet.maxBundleBytes (${this.maxBundleBytes})`);
    const tmp = join(this.releasesDir, `${version}.tgz.upload-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let bytes = 0;
    const cap = this.maxBundleBytes;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > cap) return done(new CloudHttpError(413, `bundle is over fleet.maxBundleBytes (${cap})`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(tmp, { mode: 0o644 }));
      if (bytes === 0) throw new CloudHttpError(400, 'the bundle is empty');
      syncFile(tmp);
    } catch (err) {
      rmSync(tmp, { force: true });
      if (err instanceof CloudHttpError) throw err;
      throw new CloudHttpError(400, `the upload broke off after ${bytes} bytes: ${(err as Error).message}`);
    }
    const sha256 = hash.digest('hex');
    const published = this.store.release(version);
    if (published) {
      rmSync(tmp, { force: true });
      if (published.envelope.body.sha256 !== sha256 || published.envelope.body.bytes !== bytes) throw new CloudHttpError(409, `release ${version} is published with another bundle (sha256 ${published.envelope.body.sha256}); use a new version`);
      return { bundle: this.store.bundle(version)!, created: false };
    }
    // The rename and the row together, with no await between: concurrent uploads end consistent.
    renameSync(tmp, this.bundle(version));
    syncDir(dirname(this.bundle(version)));
    const bundle: StoredBundle = { version, sha256, bytes, uploadedAt: this.clock.now() };
    this.store.putBundle(bundle);
    return { bundle, created: true };
  }

  addRelease(version: string, raw: unknown): { release: StoredRelease; created: boolean } {
    const env = this.check<ReleaseBody>(raw, 'release');
    if (env.body.version !== version) throw new CloudHttpError(400, `the envelope is for version ${env.body.version}, the path names ${version}`);
    const existing = this.store.release(version);
    if (existing) {
      if (canonicalJson(existing.envelope) !== canonicalJson(env)) throw new CloudHttpError(409, `release ${version} is already published with another envelope; use a new version`);
      return { release: existing, created: false };
    }
    const b = this.store.bundle(version);
    if (!b) throw new CloudHttpError(409, `no bundle uploaded for ${version}: PUT /api/fleet/releases/${version}/bundle first`);
    if (b.sha256 !== env.body.sha256 || b.bytes !== env.body.bytes) {
      throw new CloudHttpError(400, `the envelope says sha256 ${env.body.sha256} (${env.body.bytes} bytes), the uploaded bundle is ${b.sha256} (${b.bytes} bytes)`);
    }
    writeFileDurably(join(this.releasesDir, `${version}.json`), JSON.stringify(env) + '\n', { mode: 0o644 });
    const release: StoredRelease = { version, envelope: env, addedAt: this.clock.now() };
    this.store.putRelease(release);
    return { release, created: true };
  }

  addConfig(revision: number, raw: unknown): { config: StoredConfig; created: boolean } {
    const env = this.check<ConfigBody>(raw, 'config');
    if (env.body.revision !== revision) throw new CloudHttpError(400, `the envelope is revision ${env.body.revision}, the path names ${revision}`);
    const fixed = fixedSectionIn(env.body);
    if (fixed !== null) throw new CloudHttpError(400, `section ${fixed} cannot be set by a revision (section-not-allowed)`);
    const existing = this.store.config(revision);
    if (existing) {
      if (canonicalJson(existing.envelope) !== canonicalJson(env)) throw new CloudHttpError(409, `config revision ${revision} already exists with other content; use a new revision`);
      return { config: existing, created: false };
    }
    writeFileDurably(join(this.configsDir, `${revision}.json`), JSON.stringify(env) + '\n', { mode: 0o644 });
    const config: StoredConfig = { revision, envelope: env, addedAt: this.clock.now() };
    this.store.putConfig(config);
    return { config, created: true };
  }

  checkRollback(raw: unknown): SignedArtifact<RollbackBody> {
    return this.check<RollbackBody>(raw, 'rollback');
  }

  /**
   * Shape always; the signature when release keys are configured. Without keys verifyArtifact
   * ends on `wrong-key` after the body and signature format passed: that is the shape check.
   */
  private check<B extends FleetBody>(raw: unknown, kind: FleetKind): SignedArtifact<B> {
    const v = verifyArtifact<B>(raw, kind, this.releaseKeys);
    if (!v.ok && !(v.reason === 'wrong-key' && this.releaseKeys.length === 0)) throw new CloudHttpError(400, `the ${kind} envelope is refused (${v.reason}): ${v.why}`);
    const r = raw as SignedArtifact<B>;
    return { body: r.body, keyId: r.keyId, sig: r.sig };
  }
}
