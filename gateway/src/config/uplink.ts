import { section, str, nullable, type Check } from './checks.js';

/** Where readings are delivered upstream. Absent (null, default): store and forward until set. */
export interface UplinkConfig {
  /** Cloud broker URL, `mqtt://host:port` or `mqtts://host:port`. Required. */
  url: string;
  /** Username at the cloud broker. Default: the gateway id. */
  username: string | null;
  /** Password at the cloud broker. Default none. */
  password: string | null;
}

export const checkUplink: Check<UplinkConfig> = section<UplinkConfig>(
  {
    url: str({ pattern: /^mqtts?:\/\/[^\s/]+(:\d{1,5})?\/?$/, hint: 'an MQTT URL like mqtt://cloud.example:1884', max: 2048 }),
    username: nullable(str({ max: 256 })),
    password: nullable(str({ max: 1024 })),
  },
  { username: null, password: null },
);
