import type { IncomingMessage, ServerResponse } from 'node:http';
import { IDENTIFIER_RULE, isGatewayId, isGroupTag, isReleaseVersion } from '@fieldmesh/protocol';
import { CloudHttpError } from '../http/errors.js';
import { readJsonBody, sendJson as send } from '../http/json-body.js';
import { RangeRefusal, sendBundle } from './bundle-download.js';
import type { FleetAccess, FleetCaller } from './fleet-access.js';
import type { FleetService } from './fleet-service.js';
import { fleetStatus } from './fleet-status.js';
import { entrySummary, scopeOf, type DesiredEntry, type DesiredTarget, type RolloutPlan } from './fleet-store.js';
import type { ReleaseLibrary } from './release-library.js';
import type { RolloutRunner } from './rollout-runner.js';
import { rolloutView } from './rollout-waves.js';

/** Envelopes and desired/rollout requests are small JSON: a config envelope is at most 48 KiB of body. */
const MAX_JSON_BYTES = 64 * 1024;
const MAX_HISTORY = 1000;
const REVISION = /^[1-9]\d{0,14}$/;

export type FleetRefusal = 'unauthorized' | 'forbidden' | 'bad_request' | 'not_found' | 'method' | 'conflict' | 'too_large' | 'media_type' | 'range';
const BY_STATUS: Record<number, FleetRefusal> = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method', 409: 'conflict', 413: 'too_large', 415: 'media_type', 416: 'range' };

const bad = (detail: string) => new CloudHttpError(400, detail);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

function only(body: Record<string, unknown>, keys: string[], what: string): void {
  for (const k of Object.keys(body)) if (!keys.includes(k)) throw bad(`${what}: unknown field ${JSON.stringify(k.slice(0, 40))}; known: ${keys.join(', ')}`);
}

function parseTarget(v: unknown): DesiredTarget {
  if (!isObject(v) || Object.keys(v).length !== 1) throw bad('target must be {"gateway":"ID"}, {"group":"TAG"} or {"all":true}');
  if (isGatewayId(v.gateway)) return { gateway: v.gateway };
  if (isGroupTag(v.group)) return { group: v.group };
  if (v.all === true) return { all: true };
  throw bad('target must be {"gateway":"ID"}, {"group":"TAG"} or {"all":true} with a valid id or tag');
}

/**
 * The fleet HTTP routes (HTTP.md, "Fleet"): uploads, desired state, rollouts, status, history,
 * bundle download. Each write needs a fleet admin token; reads take a live token too; the
 * bundle download also takes a gateway's uplink credential. Every refusal is a 4xx with
 * `{ error, code }`, counted by reason.
 */
export class FleetRoutes {
  readonly refused: Record<FleetRefusal, number> = { unauthorized: 0, forbidden: 0, bad_request: 0, not_found: 0, method: 0, conflict: 0, too_large: 0, media_type: 0, range: 0 };
  /** Bundle bytes sent (ranges count what they carried). */
  bundleBytesSent = 0;

  constructor(
    private readonly fleet: FleetService,
    private readonly library: ReleaseLibrary,
    private readonly rollouts: RolloutRunner,
    private readonly access: FleetAccess,
    private readonly online: (id: string) => boolean,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      const caller = await this.access.caller(req, url);
      await this.route(req, res, url, caller);
    } catch (err) {
      if (!(err instanceof CloudHttpError)) {
        // Past the head (a bundle streaming) a 500 cannot be sent: the connection goes.
        if (res.headersSent) return void res.destroy();
        throw err;
      }
      const reason = BY_STATUS[err.status];
      if (reason) this.refused[reason]++;
      if (res.headersSent) return void res.destroy();
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
      if (err instanceof RangeRefusal) headers['content-range'] = `bytes */${err.size}`;
      if (err.status === 401) headers['www-authenticate'] = 'Bearer, Basic realm="fieldmesh fleet"';
      // A refused upload's body is not read: the connection closes after the answer.
      if (req.method === 'PUT' && !req.complete) headers.connection = 'close';
      res.writeHead(err.status, headers);
      res.end(JSON.stringify(err.body()));
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL, caller: FleetCaller | null): Promise<void> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const parts = path.split('/').slice(3);
    if (caller === null) throw new CloudHttpError(401, 'a fleet admin token (Authorization: Bearer) or, to read, a live token is required');
    const read = method === 'GET' || method === 'HEAD';
    // The bundle download, the one route a gateway's credential opens.
    if (parts[0] === 'releases' && parts.length === 3 && parts[2] === 'bundle' && read) return this.download(req, res, parts[1]!);
    if (caller.kind === 'gateway') throw new CloudHttpError(403, 'a gateway credential only downloads release bundles');
    if (!read && caller.kind !== 'admin') throw new CloudHttpError(403, 'changing the fleet needs a fleet admin token as Authorization: Bearer (`fieldmesh cloud add-admin-token NAME`)');
    const by = caller.kind === 'admin' ? caller.name : 'viewer';
    // HEAD is answered as GET (node:http sends no body for it).
    const key = `${method === 'HEAD' ? 'GET' : method} ${parts.length === 0 ? '' : parts[0]}${parts.length > 1 ? `/${parts.length}` : ''}`;
    switch (key) {
      case 'GET ':
        return send(res, 200, fleetStatus(this.fleet.store, this.online));
      case 'GET history':
        return send(res, 200, this.history(url.searchParams));
      case 'PUT releases/3': {
        if (parts[2] !== 'bundle') break;
        const version = this.version(parts[1]!);
        const length = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
        const { bundle, created } = await this.library.receiveBundle(version, req, length !== null && Number.isFinite(length) ? length : null);
        if (created) this.fleet.store.addEvent({ at: bundle.uploadedAt, gateway: null, kind: 'bundle-uploaded', detail: { version, sha256: bundle.sha256, bytes: bundle.bytes, by } });
        return send(res, created ? 201 : 200, { version, sha256: bundle.sha256, bytes: bundle.bytes });
      }
      case 'PUT releases/2': {
        const version = this.version(parts[1]!);
        const { release, created } = this.library.addRelease(version, await readJsonBody(req, MAX_JSON_BYTES));
        if (created) {
          this.fleet.store.addEvent({ at: release.addedAt, gateway: null, kind: 'release-added', detail: { version, sha256: release.envelope.body.sha256, by } });
          // Entries naming this version before it existed publish now.
          await this.fleet.publisher.refresh();
        }
        return send(res, created ? 201 : 200, { version, release: release.envelope.body });
      }
      case 'GET releases/2': {
        const r = this.fleet.store.release(this.version(parts[1]!));
        if (!r) throw new CloudHttpError(404, `no release ${parts[1]}`);
        return send(res, 200, r.envelope);
      }
      case 'PUT configs/2': {
        if (!REVISION.test(parts[1]!)) throw bad(`revision ${JSON.stringify(parts[1]!.slice(0, 40))} is not a positive integer`);
        const revision = Number(parts[1]);
        const { config, created } = this.library.addConfig(revision, await readJsonBody(req, MAX_JSON_BYTES));
        if (created) {
          this.fleet.store.addEvent({ at: config.addedAt, gateway: null, kind: 'config-added', detail: { revision, sections: Object.keys(config.envelope.body.sections), by } });
          await this.fleet.publisher.refresh();
        }
        return send(res, created ? 201 : 200, { revision, sections: Object.keys(config.envelope.body.sections) });
      }
      case 'PUT desired':
        return send(res, 200, await this.setDesired(await readJsonBody(req, MAX_JSON_BYTES), by));
      case 'POST rollouts':
        return send(res, 201, rolloutView(await this.rollouts.create(this.plan(await readJsonBody(req, MAX_JSON_BYTES)), by)));
      case 'POST rollouts/3': {
        const action = parts[2];
        if (!REVISION.test(parts[1]!) || (action !== 'pause' && action !== 'resume' && action !== 'cancel')) break;
        const r = await this.rollouts[action](Number(parts[1]), by);
        return send(res, 200, rolloutView(r));
      }
    }
    throw new CloudHttpError(read || ['PUT', 'POST'].includes(method) ? 404 : 405, `no fleet route ${method} ${path.slice(0, 200)}`);
  }

  private version(raw: string): string {
    if (!isReleaseVersion(raw)) throw bad(`version ${JSON.stringify(String(raw).slice(0, 40))} is not MAJOR.MINOR.PATCH`);
    return raw;
  }

  private async download(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    const version = this.version(raw);
    const r = this.fleet.store.release(version);
    if (!r) throw new CloudHttpError(404, `no release ${version}`);
    this.bundleBytesSent += await sendBundle(req, res, this.library.bundle(version), r.envelope.body.sha256);
  }

  private history(params: URLSearchParams): Record<string, unknown> {
    for (const k of params.keys()) if (!['gateway', 'limit', 'before', 'token'].includes(k)) throw bad(`unknown parameter ${JSON.stringify(k.slice(0, 40))}; known: gateway, limit, before`);
    const gateway = params.get('gateway') ?? undefined;
    if (gateway !== undefined && !isGatewayId(gateway)) throw bad('gateway is not a gateway id');
    const num = (k: string, max: number) => {
      const v = params.get(k);
      if (v === null) return undefined;
      if (!REVISION.test(v) || Number(v) > max) throw bad(`${k} must be an integer 1..${max}`);
      return Number(v);
    };
    const limit = num('limit', MAX_HISTORY) ?? 100;
    const before = num('before', Number.MAX_SAFE_INTEGER);
    const events = this.fleet.store.history({ limit, ...(gateway !== undefined ? { gateway } : {}), ...(before !== undefined ? { before } : {}) });
    // Flat events, newest first: `{ id, at, gateway, kind, …what happened }`; `next` pages to older ones as `before`.
    return { events: events.map((e) => ({ ...e.detail, id: e.id, at: e.at, gateway: e.gateway, kind: e.kind })), next: events.length === limit ? events.at(-1)!.id : null };
  }

  private async setDesired(body: unknown, by: string): Promise<Record<string, unknown>> {
    if (!isObject(body)) throw bad('the body must be {"target":…, "version"?, "configRevision"?, "rollback"?}');
    only(body, ['target', 'version', 'configRevision', 'rollback', 'clear'], 'desired');
    const target = parseTarget(body.target);
    if (body.clear !== undefined) {
      if (body.clear !== true || Object.keys(body).length !== 2) throw bad('clear is true, alone with target: it removes that entry');
      return { scope: scopeOf(target), cleared: true, changed: await this.fleet.clearDesired(target, by) };
    }
    const entry: DesiredEntry = {};
    const store = this.fleet.store;
    if (body.version !== undefined) {
      if (!isReleaseVersion(body.version)) throw bad('version is not MAJOR.MINOR.PATCH');
      if (!store.release(body.version)) throw new CloudHttpError(404, `no release ${body.version}: upload its bundle and envelope first (fieldmesh fleet set-version ${body.version} --bundle F.tgz --key K --upload-only)`);
      entry.version = body.version;
    }
    if (body.configRevision !== undefined) {
      if (!isCount(body.configRevision, 1, Number.MAX_SAFE_INTEGER)) throw bad('configRevision is not a positive integer');
      if (!store.config(body.configRevision)) throw new CloudHttpError(404, `no config revision ${body.configRevision}: PUT /api/fleet/configs/${body.configRevision} first`);
      entry.configRevision = body.configRevision;
    }
    if (body.rollback !== undefined) entry.rollback = this.library.checkRollback(body.rollback);
    const { entry: stored, changed } = await this.fleet.setDesired(target, entry, by);
    return { scope: stored.scope, ...entrySummary(entry), setAt: stored.setAt, changed };
  }

  private plan(body: unknown): RolloutPlan {
    if (!isObject(body)) throw bad('the body must be a rollout plan object');
    only(body, ['version', 'configRevision', 'group', 'canaryPercent', 'waves', 'maxFailurePercent', 'waveTimeoutSec'], 'rollout');
    if ((body.version === undefined) === (body.configRevision === undefined)) throw bad('a rollout has exactly one of version and configRevision');
    if (body.version !== undefined && !isReleaseVersion(body.version)) throw bad('version is not MAJOR.MINOR.PATCH');
    if (body.configRevision !== undefined && !isCount(body.configRevision, 1, Number.MAX_SAFE_INTEGER)) throw bad('configRevision is not a positive integer');
    if (body.group !== undefined && !isGroupTag(body.group)) throw bad(`group is not a tag (${IDENTIFIER_RULE})`);
    const num = (k: string, min: number, max: number, dflt: number) => {
      const v = body[k] ?? dflt;
      if (!isCount(v, min, max)) throw bad(`${k} must be an integer ${min}..${max}`);
      return v;
    };
    return {
      ...(body.version !== undefined ? { version: body.version as string } : {}),
      ...(body.configRevision !== undefined ? { configRevision: body.configRevision as number } : {}),
      ...(body.group !== undefined ? { group: body.group as string } : {}),
      canaryPercent: num('canaryPercent', 0, 100, 10),
      waves: num('waves', 1, 100, 3),
      maxFailurePercent: num('maxFailurePercent', 0, 100, 20),
      waveTimeoutSec: num('waveTimeoutSec', 1, 7 * 24 * 3600, 600),
    };
  }
}
