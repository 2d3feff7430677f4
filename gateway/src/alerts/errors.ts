import { codedErrorClass } from '@fieldmesh/device-sdk/coded-error';

/** Error catalog of the alerts component (stable codes: code branches on `code`, never on text). */
export const ALERT_ERRORS = {
  FM_ERR_ALERT_BAD_GATEWAY_ID: {
    meaning: 'The gateway id is not a gateway id (protocol/FORMAT.md §1.1), so it cannot stand as an MQTT topic level of fm/alerts/<gateway>/….',
    howToSolve: 'Use 1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit',
  },
} as const;

export type AlertErrorCode = keyof typeof ALERT_ERRORS;

export class AlertError extends codedErrorClass('AlertError', ALERT_ERRORS) {
  readonly solve: string = this.how;
}
