import type { PublishPacket } from 'aedes';
import type { ReadingValue } from '@fieldmesh/device-sdk';
import { APP_USER_PREFIX, appResultTopic, type AppGrant, WRITE_TOPIC_PREFIX } from './app-grant.js';
import type { IngestError } from './errors.js';
import { parseBareValue } from './topic.js';

/** Writes `value` to the writable register named `<device>/<sensor>`; rejects with a coded error. */
export type AppWriter = (series: string, value: ReadingValue) => Promise<void>;

/**
 * An app's write request (`fm/w/<series>`, granted by its write patterns): the value is parsed and
 * handed to the writer, the result published to the app's result topic, and the PUBLISH itself
 * re-addressed to `refusedTopic` so that aedes forwards it to no one.
 */
export function handleAppWrite(
  deps: { writer: AppWriter; publish: (topic: string, payload: string) => void; note: (key: string, detail: Record<string, unknown>, message: string) => void; refusedTopic: string },
  grant: AppGrant,
  packet: PublishPacket,
  done: (error?: Error | null) => void,
): void {
  const series = packet.topic.slice(WRITE_TOPIC_PREFIX.length);
  packet.retain = false;
  const report = (body: Record<string, unknown>) => {
    deps.publish(appResultTopic(grant.id), JSON.stringify({ series, messageId: packet.messageId ?? null, ...body }));
    packet.topic = deps.refusedTopic;
    done();
  };
  let value;
  try {
    value = parseBareValue(packet.payload as Buffer);
  } catch (err) {
    return report({ ok: false, code: (err as IngestError).code, reason: (err as Error).message });
  }
  deps.writer(series, value).then(
    () => report({ ok: true, value }),
    (err: Error & { code?: string }) => {
      deps.note(`login:${APP_USER_PREFIX}${grant.id}`, { series, err: err.message }, 'app write failed');
      report({ ok: false, code: err.code ?? null, reason: err.message });
    },
  );
}
