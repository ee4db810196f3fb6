import { quoteUnsafeIntegers } from '../src/http/lenient-body';

describe('quoteUnsafeIntegers (64-bit serials as JSON numbers)', () => {
  const read = (text: string): unknown => JSON.parse(quoteUnsafeIntegers(text));

  it('keeps an integer beyond 2^53 − 1 exactly, as its decimal string', () => {
    expect(read('[18446744073709551615, 9007199254740993]')).toEqual(['18446744073709551615', '9007199254740993']);
    expect(read('{"serialNumber":12345678901234567890,"key_data":"x"}')).toEqual({ serialNumber: '12345678901234567890', key_data: 'x' });
    expect(read('-9007199254740993')).toBe('-9007199254740993');
  });

  it('leaves safe integers, decimals, exponents and strings alone', () => {
    expect(read('[9007199254740991, 1.5, 12345678901234567890.5, 1e300, "12345678901234567890"]')).toEqual([9007199254740991, 1.5, 1.2345678901234567e19, 1e300, '12345678901234567890']);
    expect(read('{"a\\"12345678901234567890":"\\\\12345678901234567890"}')).toEqual({ 'a"12345678901234567890': '\\12345678901234567890' });
  });

  it('does not make invalid JSON valid', () => {
    expect(() => read('[012345678901234567890]')).toThrow(SyntaxError);
    expect(() => read('[12345678901234567890')).toThrow(SyntaxError);
  });
});
