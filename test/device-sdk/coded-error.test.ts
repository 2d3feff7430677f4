import { describe, expect, it } from 'vitest';
import { CodedError, codedErrorClass, codeThenDetail, detailThenHow, howToSolve } from '@fieldmesh/device-sdk/coded-error';

const CATALOG = {
  FM_ERR_TEST_A: 'Do A.',
  FM_ERR_TEST_B: { meaning: 'b went wrong', solve: 'do B' },
} as const;

class TestError extends codedErrorClass('TestError', CATALOG) {}

describe('coded errors', () => {
  it('binds a catalog: code, how to solve, name and instanceof', () => {
    const err = new TestError('FM_ERR_TEST_B', 'port 70000 is out of range');
    expect(err).toBeInstanceOf(TestError);
    expect(err).toBeInstanceOf(CodedError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('TestError');
    expect(err.code).toBe('FM_ERR_TEST_B');
    expect(err.how).toBe('do B');
    expect(err.message).toBe('port 70000 is out of range (FM_ERR_TEST_B: do B)');
    expect(String(err)).toBe('TestError: port 70000 is out of range (FM_ERR_TEST_B: do B)');
  });

  it('formats messages in the order a component established', () => {
    const Dotted = codedErrorClass('Dotted', CATALOG, detailThenHow);
    const Prefixed = codedErrorClass('Prefixed', CATALOG, codeThenDetail);
    expect(new Dotted('FM_ERR_TEST_A', 'bad').message).toBe('bad. Do A.');
    expect(new Prefixed('FM_ERR_TEST_A', 'bad').message).toBe('FM_ERR_TEST_A: bad');
    expect(howToSolve(CATALOG.FM_ERR_TEST_A)).toBe('Do A.');
  });

  it('keeps the classes of two components apart', () => {
    class OtherError extends codedErrorClass('OtherError', CATALOG) {}
    expect(new OtherError('FM_ERR_TEST_A', 'x')).not.toBeInstanceOf(TestError);
  });
});
