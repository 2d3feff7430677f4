import { describe, expect, it } from 'vitest';
import { ManualClock } from '@fieldmesh/device-sdk';
import { StepLoop } from '#gateway/relay/step-loop';

describe('StepLoop', () => {
  it('steps at start and then every interval on the injected clock, survives a throwing step, and stops', () => {
    const clock = new ManualClock(0);
    const steps: number[] = [];
    const errors: string[] = [];
    const loop = new StepLoop({
      clock,
      everyMs: 100,
      step: () => {
        steps.push(clock.now());
        if (steps.length === 2) throw new Error('glitch');
      },
      onError: (err) => errors.push(err.message),
    });
    loop.start();
    loop.start(); // a second start does not make a second loop
    expect(steps).toEqual([0]);
    clock.advance(350);
    expect(steps).toEqual([0, 100, 200, 300]);
    expect(errors).toEqual(['glitch']);
    loop.stop();
    expect(loop.running).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(1000);
    expect(steps).toHaveLength(4);
  });

  it('a step that stops the loop leaves no timer behind', () => {
    const clock = new ManualClock(0);
    let n = 0;
    const loop: StepLoop = new StepLoop({ clock, everyMs: 10, step: () => (++n === 3 ? loop.stop() : undefined), onError: () => {} });
    loop.start();
    clock.advance(100);
    expect(n).toBe(3);
    expect(clock.pendingTimers()).toBe(0);
  });
});
