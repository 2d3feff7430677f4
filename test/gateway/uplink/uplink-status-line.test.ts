import { describe, expect, it } from 'vitest';
import { uplinkLine } from '#gateway/cli/commands/status';

describe('fieldmesh status: uplink line', () => {
  it('shows the drain rate, the ETA, the window and waiting alerts', () => {
    expect(uplinkLine({ state: 'online', drainRate: 5230.5, etaSeconds: 42, sendWindow: 12, alertsPending: 2 })).toBe('online, draining 5,231 readings/s, ETA 42 s, window 12, 2 alerts pending');
    expect(uplinkLine({ state: 'waiting', drainRate: 0, etaSeconds: null, sendWindow: 4, alertsPending: 0 })).toBe('waiting, draining 0 readings/s, ETA unknown (nothing drains), window 4');
    expect(uplinkLine({ state: 'none' })).toBe('none');
    expect(uplinkLine(undefined)).toBe('none');
  });
});
