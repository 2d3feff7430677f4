import { describe, expect, it } from 'vitest';
import type { Logger } from '@fieldmesh/device-sdk';
import { commitPipeline, COMMIT_STAGE_ORDER, type CommitStages } from '#gateway/commit-pipeline';

function recordingLogger(errors: Array<Record<string, unknown>>): Logger {
  const noop = (): void => {};
  const logger = { trace: noop, debug: noop, info: noop, warn: noop, fatal: noop, error: (obj: Record<string, unknown>) => errors.push(obj), child: () => logger };
  return logger as unknown as Logger;
}

describe('commit pipeline', () => {
  const batch = { firstSeq: 11, lastSeq: 13, readings: [1, 2, 3].map((v) => ({ series: 'd/t', ts: v, value: v })) };

  it('runs rules (then held decisions), budget, uplink, relay, apps in that order, once per commit', () => {
    const calls: string[] = [];
    const held: Array<[number, readonly boolean[]]> = [];
    const stages: CommitStages = {
      rules: (readings) => (calls.push(`rules:${readings.length}`), [true, false, true]),
      hold: (firstSeq, forward) => (calls.push('hold'), held.push([firstSeq, forward])),
      budget: () => calls.push('budget'),
      uplink: (b) => calls.push(`uplink:${b.firstSeq}`),
      relay: (b) => calls.push(`relay:${b.lastSeq}`),
      apps: (b) => calls.push(`apps:${b.readings.length}`),
    };
    commitPipeline(stages, recordingLogger([]))(batch);
    expect(calls).toEqual(['rules:3', 'hold', 'budget', 'uplink:11', 'relay:13', 'apps:3']);
    expect(held).toEqual([[11, [true, false, true]]]);
    expect(COMMIT_STAGE_ORDER).toEqual(['rules', 'budget', 'uplink', 'relay', 'apps']);
  });

  it('records no held decisions without local processing, and a throwing stage does not stop the later ones', () => {
    const calls: string[] = [];
    const errors: Array<Record<string, unknown>> = [];
    const run = commitPipeline(
      {
        rules: () => undefined,
        hold: () => calls.push('hold'),
        budget: () => {
          throw new Error('budget broke');
        },
        uplink: () => calls.push('uplink'),
        relay: () => calls.push('relay'),
        apps: () => calls.push('apps'),
      },
      recordingLogger(errors),
    );
    run(batch);
    expect(calls).toEqual(['uplink', 'relay', 'apps']);
    expect(errors.map((e) => [e.stage, (e.err as Error).message])).toEqual([['budget', 'budget broke']]);
  });
});
