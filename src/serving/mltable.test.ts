import { describe, expect, it } from 'vitest';
import { tablePlan } from './mltable.js';

const FILES = ['MLTable', 'data/2024/b.csv', 'data/2024/a.csv', 'data/notes.txt', 'data/top.csv', 'other/c.csv'];
const refusal = (text: string, files = FILES): string => {
  try {
    tablePlan(text, files, 'azureml:t:1');
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('tablePlan', () => {
  it('resolves file, folder and pattern paths to the files, sorted, each once, without the MLTable file', () => {
    const plan = tablePlan('paths:\n  - pattern: ./data/**/*.csv\n  - file: other/c.csv\n  - folder: ./data/2024/\ntransformations:\n  - read_delimited:\n', FILES, 'x');
    expect(plan.files).toEqual(['data/2024/a.csv', 'data/2024/b.csv', 'data/top.csv', 'other/c.csv']);
    expect(tablePlan('paths: [{folder: .}]\ntransformations: [read_parquet: ]', FILES, 'x').files).not.toContain('MLTable');
  });

  it("applies MLTable's read defaults and keeps the steps in order (a single column name as a list)", () => {
    const plan = tablePlan('type: mltable\npaths: [{file: data/top.csv}]\ntransformations:\n  - read_delimited: {delimiter: ";", empty_as_string: true}\n  - skip: 1\n  - take: 5\n  - drop_columns: id\n  - keep_columns: [a, b]\n', FILES, 'x');
    expect(plan.read).toEqual({ format: 'delimited', options: { delimiter: ';', header: 'all_files_same_headers', encoding: 'utf8', empty_as_string: true, include_path_column: false, infer_column_types: true } });
    expect(plan.steps).toEqual([{ skip: 1 }, { take: 5 }, { drop_columns: ['id'] }, { keep_columns: ['a', 'b'] }]);
    expect(tablePlan('paths: [{file: data/top.csv}]\ntransformations: [{read_json_lines: {invalid_lines: drop}}]', FILES, 'x').read).toEqual({ format: 'json_lines', options: { include_path_column: false, invalid_lines: 'drop', encoding: 'utf8' } });
  });

  it('reports mistakes in the YAML with their lines, as every spec', () => {
    const message = refusal('paths:\n  - file: data/top.csv\n    folder: data\ntransformation:\n  - read_delimited: {header: first}\n');
    expect(message).toContain('azureml:t:1/MLTable has 2 errors');
    expect(message).toMatch(/MLTable:2:5 paths\[0\]: has 2 keys \(file, folder\)/);
    expect(message).toMatch(/MLTable:4:1 transformation: unknown key 'transformation' \(did you mean 'transformations'\?\)/);
  });

  it('refuses what batch endpoints cannot read, naming each feature and what is supported', () => {
    const message = refusal('paths:\n  - file: https://x/y.csv\n  - pattern: ../up/*.csv\n  - pattern: ./nothing/*.csv\n  - file: data/2024\ntransformations:\n  - take: 3\n  - read_delimited: {}\n  - filter: \'col("a") > 1\'\n  - read_parquet: {}\n');
    expect(message).toContain('azureml:t:1/MLTable cannot be scored by a batch endpoint (7 problems)');
    expect(message).toContain("paths[0].file 'https://x/y.csv' is a URI; batch endpoints read only paths relative to the MLTable file's folder");
    expect(message).toContain("paths[1].pattern '../up/*.csv' leaves the MLTable file's folder");
    expect(message).toContain("paths[2].pattern './nothing/*.csv' matches no file (the files beside the MLTable file: data/2024/a.csv, data/2024/b.csv, data/notes.txt");
    expect(message).toContain("paths[3].file 'data/2024' is a folder: use 'folder:'");
    expect(message).toContain('transformations[1]: read_delimited must be the first and only read transformation');
    expect(message).toContain('transformations[2]: filter is not supported: batch endpoints read read_delimited, read_parquet, read_json_lines (one, first), then apply take, skip, drop_columns, keep_columns');
    expect(message).toContain('transformations[3]: read_parquet must be the first and only read transformation');
    expect(refusal('paths: [{file: data/top.csv}]\n')).toContain('no read transformation');
  });
});
