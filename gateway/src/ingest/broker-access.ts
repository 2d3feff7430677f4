import type { AuthenticateError, Client, Subscription } from 'aedes';
import { isDeviceId } from '@fieldmesh/device-sdk';
import type { BrokerConfig } from '../config/broker.js';
import type { CredentialStore } from './credentials.js';
import type { IngestStats } from './stats.js';
import type { RejectLog } from './reject-log.js';
import type { ReadingFeed } from './reading-feed.js';
import { APP_ID, APP_USER_PREFIX, AppGrant, READING_TOPIC_PREFIX } from './app-grant.js';
import { DEVICE_TOPIC_PREFIX } from './topic.js';

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3). */
const CONNACK_IDENTIFIER_REJECTED = 2;
const CONNACK_BAD_CREDENTIALS = 4;

type LoginDone = (error: AuthenticateError | null, success: boolean | null) => void;
type Refuse = (returnCode: number, why: string) => void;

export interface BrokerAccessOptions {
  config: Pick<BrokerConfig, 'auth'>;
  /** Required unless `auth` is `none`. */
  credentials?: CredentialStore;
  /** App credentials; none: apps cannot log in. */
  apps?: CredentialStore;
  /** This gateway's id (the availability topic apps may read). */
  gatewayId?: string;
  stats: () => IngestStats;
  rejects: RejectLog;
  /** Told of an app's subscriptions under `fm/r/`. */
  feed: ReadingFeed;
}

/**
 * Who a broker client is and what it may read: device and app logins, with the client id bound
 * to the login, and the subscription ACL. Publishing rights follow from the same identity (the
 * broker asks `deviceOf` / `grantOf`).
 */
export class BrokerAccess {
  private readonly identity = new WeakMap<Client, string>();
  private readonly appGrants = new WeakMap<Client, AppGrant>();
  /** Topic prefixes every app may also subscribe under (Home Assistant's discovery prefix on this broker). */
  private readonly appSubscribePrefixes: string[] = [];

  constructor(private readonly o: BrokerAccessOptions) {}

  /** The device a client logged in as; undefined for apps and before login. */
  deviceOf(client: Client): string | undefined {
    return this.identity.get(client);
  }

  /** An app client's grant; undefined for devices. */
  grantOf(client: Client): AppGrant | undefined {
    return this.appGrants.get(client);
  }

  /** Lets every app subscribe under `prefix` (which ends in `/`) too. */
  allowAppSubscribe(prefix: string): void {
    this.appSubscribePrefixes.push(prefix);
  }

  authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: LoginDone): void {
    const refuse: Refuse = (returnCode, why) => {
      this.o.stats().reject('bad_credentials');
      this.o.rejects.note(`login:${username ?? client.id}`, { reason: 'bad_credentials', why }, 'login refused');
      const err = new Error(why) as AuthenticateError;
      (err as { returnCode: number }).returnCode = returnCode;
      done(err, false);
    };
    if (username !== undefined && username.startsWith(APP_USER_PREFIX)) return this.authenticateApp(client, username, password, refuse, done);
    if (this.o.config.auth === 'none') {
      // Lab mode: the device is who its client id says it is.
      const device = username ?? client.id;
      if (!isDeviceId(device)) return refuse(CONNACK_IDENTIFIER_REJECTED, `device id ${JSON.stringify(device).slice(0, 80)} is not valid`);
      this.identity.set(client, device);
      return done(null, true);
    }
    if (username === undefined || password === undefined || !isDeviceId(username)) return refuse(CONNACK_BAD_CREDENTIALS, 'anonymous or malformed login');
    // A client id names a session, and a second CONNECT with the same id takes the session over
    // [MQTT-3.1.4-2]: a device may only use its own id (or `<id>:<suffix>`), so it cannot kick
    // another device off.
    if (client.id !== username && !client.id.startsWith(`${username}:`)) {
      return refuse(CONNACK_IDENTIFIER_REJECTED, `client id ${JSON.stringify(client.id).slice(0, 80)} is not ${username} or ${username}:…`);
    }
    this.o.credentials!.verify(username, password).then(
      (ok) => {
        if (!ok) return refuse(CONNACK_BAD_CREDENTIALS, `wrong password for ${username}`);
        this.identity.set(client, username);
        done(null, true);
      },
      (err: Error) => refuse(CONNACK_BAD_CREDENTIALS, err.message),
    );
  }

  /** `app:<id>` with its password from apps.json; the client id is bound to it as a device's is. */
  private authenticateApp(client: Client, username: string, password: Buffer | undefined, refuse: Refuse, done: LoginDone): void {
    const id = username.slice(APP_USER_PREFIX.length);
    const apps = this.o.apps;
    if (!apps || password === undefined || !APP_ID.test(id)) return refuse(CONNACK_BAD_CREDENTIALS, 'app login without credentials');
    if (client.id !== username && !client.id.startsWith(`${username}:`)) {
      return refuse(CONNACK_IDENTIFIER_REJECTED, `client id ${JSON.stringify(client.id).slice(0, 80)} is not ${username} or ${username}:…`);
    }
    apps.verify(id, password).then(
      (ok) => {
        if (!ok) return refuse(CONNACK_BAD_CREDENTIALS, `wrong password for ${username}`);
        try {
          this.appGrants.set(client, new AppGrant(id, apps.readPatterns(id) ?? [], apps.writePatterns(id) ?? []));
        } catch (err) {
          return refuse(CONNACK_BAD_CREDENTIALS, `app ${id}: ${(err as Error).message}`);
        }
        done(null, true);
      },
      (err: Error) => refuse(CONNACK_BAD_CREDENTIALS, err.message),
    );
  }

  authorizeSubscribe(client: Client, sub: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const grant = this.appGrants.get(client);
    if (grant) {
      if (!grant.allows(sub.topic, this.o.gatewayId ?? '') && !this.appSubscribePrefixes.some((p) => sub.topic.startsWith(p))) {
        this.o.stats().reject('app_subscribe');
        this.o.rejects.note(`login:${client.id}`, { reason: 'app_subscribe', topic: sub.topic.slice(0, 200), read: grant.read }, 'subscription refused: outside the app\'s read patterns');
        return done(null, null); // SUBACK 0x80 [MQTT-3.9.3]
      }
      if (sub.topic.startsWith(READING_TOPIC_PREFIX)) this.o.feed.subscribe(client, sub.topic);
      return done(null, { ...sub, qos: sub.qos > 1 ? 1 : sub.qos });
    }
    if (this.o.config.auth === 'none') return done(null, sub);
    // Alerts are for local actuators: any authenticated device may listen (never publish) there.
    if (this.identity.get(client) !== undefined && (sub.topic === 'fm/alerts/#' || sub.topic.startsWith('fm/alerts/'))) return done(null, sub);
    // A device may listen to its own subtree only (rejection notices, later: commands).
    const device = this.identity.get(client);
    const own = `${DEVICE_TOPIC_PREFIX}${device}/`;
    if (device !== undefined && (sub.topic.startsWith(own) || sub.topic === `${DEVICE_TOPIC_PREFIX}${device}/#`)) return done(null, sub);
    done(null, null);
  }
}
