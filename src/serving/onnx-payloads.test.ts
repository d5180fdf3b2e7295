import { describe, expect, it } from 'vitest';
import { answer, parseBody, PayloadError, type TensorInput } from './onnx-payloads.js';

const IRIS: TensorInput = {
  columns: [
    { name: 'a', type: 'double' },
    { name: 'b', type: 'double' },
    { name: 'n', type: 'long' },
  ],
  features: 3,
};
const TENSOR: TensorInput = { columns: null, features: 2 };

const parse = (body: unknown, input = IRIS) => parseBody(typeof body === 'string' ? body : JSON.stringify(body), input);
const values = (body: unknown, input = IRIS) => Array.from(parse(body, input).values);
const refusal = (body: unknown, input = IRIS): string => {
  try {
    parse(body, input);
  } catch (err) {
    expect(err).toBeInstanceOf(PayloadError);
    return (err as Error).message;
  }
  throw new Error('expected a PayloadError');
};

describe('parseBody: shapes', () => {
  it('reads Azure ML split frames by column name, in signature order', () => {
    const p = parse({ input_data: { columns: ['n', 'b', 'a'], index: [0, 1], data: [[1, 2.5, 3.5], [4, 5, 6]] } });
    expect(p).toMatchObject({ rows: 2, wrap: false });
    expect(Array.from(p.values)).toEqual([3.5, 2.5, 1, 6, 5, 4]);
  });

  it('reads Azure ML rows, named tensors, and MLflow shapes alike', () => {
    const rows = [[1, 2, 3], [4, 5, 6]];
    const flat = [1, 2, 3, 4, 5, 6];
    expect(values({ input_data: rows })).toEqual(flat);
    expect(values({ input_data: { a: [1, 4], b: [2, 5], n: [3, 6] } })).toEqual(flat);
    expect(values({ dataframe_split: { columns: ['a', 'b', 'n'], data: rows } })).toEqual(flat);
    expect(values({ dataframe_records: [{ a: 1, b: 2, n: 3 }, { n: 6, b: 5, a: 4 }] })).toEqual(flat);
    expect(values({ instances: [{ a: 1, b: 2, n: 3 }] })).toEqual([1, 2, 3]);
    expect(values({ inputs: { a: 1, b: 2, n: 3 } })).toEqual([1, 2, 3]);
    expect(values({ inputs: { a: [1, 4], b: [2, 5], n: [3, 6] }, params: { x: 1 } })).toEqual(flat);
  });

  it('answers MLflow shapes wrapped and Azure ML ones bare', () => {
    expect(parse({ dataframe_split: { columns: ['a', 'b', 'n'], data: [[1, 2, 3]] } }).wrap).toBe(true);
    expect(parse({ input_data: [[1, 2, 3]] }).wrap).toBe(false);
    expect(answer([0, 2], false)).toBe('[0,2]');
    expect(answer([1.5], true)).toBe('{"predictions":[1.5]}');
  });

  it('reads a tensor signature from rows, and from one named tensor', () => {
    expect(values({ input_data: [[1, 2]] }, TENSOR)).toEqual([1, 2]);
    expect(values({ input_data: { input: [[1, 2], [3, 4]] } }, TENSOR)).toEqual([1, 2, 3, 4]);
    expect(values({ inputs: [[1, 2]] }, TENSOR)).toEqual([1, 2]);
  });

  it('takes bare values as rows when the model has one column, and booleans for boolean columns', () => {
    expect(values({ input_data: [1, 2, 3] }, { columns: [{ name: 'x', type: 'float' }], features: 1 })).toEqual([1, 2, 3]);
    expect(values({ dataframe_records: [{ f: true }, { f: false }] }, { columns: [{ name: 'f', type: 'boolean' }], features: 1 })).toEqual([1, 0]);
  });

  it('accepts zero rows', () => {
    expect(parse({ input_data: [] })).toMatchObject({ rows: 0 });
  });
});

describe('parseBody: refusals name what is wrong', () => {
  it('a missing column, naming it and the unknown one', () => {
    const msg = refusal({ input_data: { columns: ['a', 'b', 'nope'], data: [[1, 2, 3]] } });
    expect(msg).toContain("no column 'n'");
    expect(msg).toContain("'nope'");
  });

  it('wrong types, with the row and the column', () => {
    expect(refusal({ input_data: [[1, 'x', 3]] })).toMatch(/Row 0, column 'b' \(double\): got "x"/);
    expect(refusal({ input_data: [[1, 2, 3.5]] })).toMatch(/column 'n' \(long\): got 3.5, not an integer/);
    expect(refusal({ dataframe_records: [{ a: 1, b: null, n: 3 }] })).toMatch(/column 'b' \(double\): got no value/);
    expect(refusal({ dataframe_records: [{ f: 1 }] }, { columns: [{ name: 'f', type: 'boolean' }], features: 1 })).toMatch(/not true or false/);
  });

  it('rows of the wrong length', () => {
    expect(refusal({ input_data: [[1, 2]] })).toMatch(/\[0\] has 2 values but the model's signature has 3 columns: a, b, n/);
    expect(refusal({ input_data: [[1, 2, 3]] }, TENSOR)).toMatch(/has 3 values but the model's signature has 2 features/);
    expect(refusal({ dataframe_split: { columns: ['a', 'b', 'n'], data: [[1, 2]] } })).toMatch(/data\[0\] must be a row of 3 values/);
    expect(refusal({ input_data: { a: [1, 2], b: [1], n: [1, 2] } })).toMatch(/column 'b' has 1 value but 'a' has 2/);
  });

  it('bodies that are not one of the shapes', () => {
    expect(refusal('not json')).toMatch(/not JSON/);
    expect(refusal([1, 2])).toMatch(/is a list, not a JSON object/);
    expect(refusal({ something: 1 })).toMatch(/"something", none of which/);
    expect(refusal({ instances: [], inputs: [] })).toMatch(/send only one/);
    expect(refusal({ input_data: [[1, 2, 3]], extra: 1 })).toMatch(/"extra" next to "input_data"/);
    expect(refusal({ input_data: 'x' })).toMatch(/"input_data" is a string/);
    expect(refusal({ dataframe_records: [{ a: 1, b: 2, n: 3 }] }, TENSOR)).toMatch(/not named columns/);
    // As MLflow's parser: rows without names do not meet a column signature outside input_data.
    expect(refusal({ instances: [[1, 2, 3]] })).toMatch(/rows without column names.*\(a, b, n\)/);
  });
});

describe('parseBody: text columns', () => {
  const CHURN: TensorInput = {
    columns: [
      { name: 'plan', type: 'string' },
      { name: 'tenure', type: 'long' },
    ],
    features: 2,
  };

  it('keeps text columns apart from the numbers, in every shape', () => {
    const bodies = [
      { input_data: { columns: ['tenure', 'plan'], index: [0, 1], data: [[3, 'pro'], [40, 'basic']] } },
      { dataframe_records: [{ plan: 'pro', tenure: 3 }, { tenure: 40, plan: 'basic' }] },
      { inputs: { plan: ['pro', 'basic'], tenure: [3, 40] } },
      { input_data: [['pro', 3], ['basic', 40]] },
    ];
    for (const body of bodies) {
      const p = parse(body, CHURN);
      expect(p.text?.get(0)).toEqual(['pro', 'basic']);
      expect([p.values[1], p.values[3]]).toEqual([3, 40]);
    }
    expect(parse({ input_data: [[1, 2]] }, TENSOR).text).toBeNull();
  });

  it('refuses a number in a text column and text in a number column, naming the column', () => {
    expect(refusal({ dataframe_records: [{ plan: 7, tenure: 3 }] }, CHURN)).toMatch(/column 'plan' \(string\): got 7, not a string/);
    expect(refusal({ dataframe_records: [{ plan: null, tenure: 3 }] }, CHURN)).toMatch(/column 'plan' \(string\): got no value/);
    expect(refusal({ dataframe_records: [{ plan: 'pro', tenure: 'three' }] }, CHURN)).toMatch(/column 'tenure' \(long\)/);
  });
});
