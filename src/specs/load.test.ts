import { describe, expect, it } from 'vitest';
import { LapisError } from '../core/errors.js';
import { jsonSchemaFor, loadSpec, validateSpec } from './index.js';
import type { ComponentSpec, DataSpec, EnvironmentSpec, LoadOptions, ModelSpec, SpecError, SpecKind } from './index.js';

/** YAML from an indented template literal. */
const yml = (text: string) => {
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)?.[0].length ?? 0));
  return lines.map((l) => l.slice(indent)).join('\n');
};

function rejection(kind: SpecKind, text: string, opts?: LoadOptions): { message: string; errors: SpecError[] } {
  try {
    loadSpec(kind, text, opts);
  } catch (err) {
    if (!(err instanceof LapisError)) throw err;
    expect(err.code).toBe('INVALID_ARGUMENT');
    return { message: err.message, errors: (err.details as { errors: SpecError[] }).errors };
  }
  throw new Error('expected the spec to be rejected');
}

/** Errors as `line:col path: message` for compact assertions. */
const brief = (errors: SpecError[]) => errors.map((e) => `${e.line ?? '-'}:${e.column ?? '-'} ${e.path}: ${e.message}`);

describe('loadSpec: valid specs round-trip with defaults applied', () => {
  it('model', () => {
    const spec: ModelSpec = loadSpec(
      'model',
      yml(`
        $schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
        name: credit-default
        version: 3
        path: ./model
        description: Gradient boosting
        tags: {owner: ana, epochs: 10, prod: true, ratio: 1.50}
        properties: {auc: 0.91}
        flavors: {python_function: {loader_module: mlflow.sklearn}}
        stage: Production
        x-editor: ignored
        _anchors: &a {k: v}
      `),
    );
    expect(spec).toEqual({
      $schema: 'https://azuremlschemas.azureedge.net/latest/model.schema.json',
      name: 'credit-default',
      version: '3',
      path: './model',
      description: 'Gradient boosting',
      tags: { owner: 'ana', epochs: '10', prod: 'true', ratio: '1.50' },
      properties: { auc: '0.91' },
      flavors: { python_function: { loader_module: 'mlflow.sklearn' } },
      stage: 'Production',
      type: 'custom_model',
    });
  });

  it('data', () => {
    const spec: DataSpec = loadSpec('data', 'name: titanic\npath: azureml://datastores/blob/paths/titanic/\n');
    expect(spec).toEqual({ name: 'titanic', path: 'azureml://datastores/blob/paths/titanic/', type: 'uri_folder' });
    expect(loadSpec('data', 'name: t\npath: t.csv\ntype: uri_file\n').type).toBe('uri_file');
  });

  it('environment with an inline conda file', () => {
    const spec: EnvironmentSpec = loadSpec(
      'environment',
      yml(`
        name: sklearn
        version: 1.10
        image: python:3.11-slim
        python: 3.10
        conda_file:
          name: env
          channels: [conda-forge]
          dependencies:
            - python=3.11
            - pip:
                - scikit-learn==1.5.0
      `),
    );
    expect(spec).toEqual({
      name: 'sklearn',
      version: '1.10', // not 1.1: the YAML source text is kept
      image: 'python:3.11-slim',
      python: '3.10',
      conda_file: { name: 'env', channels: ['conda-forge'], dependencies: ['python=3.11', { pip: ['scikit-learn==1.5.0'] }] },
      os_type: 'linux',
    });
  });

  it('environment built from a Docker context', () => {
    const spec = loadSpec('environment', 'name: e\nbuild: {path: ./docker}\nos_type: windows\n');
    expect(spec.build).toEqual({ path: './docker', dockerfile_path: 'Dockerfile' });
    expect(spec.os_type).toBe('windows');
    expect(loadSpec('environment', 'name: e\nconda_file: conda.yml\n').conda_file).toBe('conda.yml');
  });

  it('command component', () => {
    const spec: ComponentSpec = loadSpec(
      'component',
      yml(`
        name: train_model
        display_name: Train
        version: 2
        code: ./src
        environment: azureml:sklearn@latest
        command: >-
          python train.py --data \${{inputs.data}} --lr \${{ inputs.lr }}
          $[[--epochs \${{inputs.epochs}}]] --out \${{outputs.model}}
        distribution: {type: pytorch, process_count_per_instance: 2}
        resources: {instance_count: 2}
        inputs:
          data: {type: uri_folder}
          lr: {type: number, default: 0.01, min: 0, max: 1}
          epochs: {type: integer, optional: true}
          mode: {type: string, enum: [fast, slow], default: fast}
        outputs:
          model: {type: mlflow_model, description: Trained model}
      `),
    );
    expect(spec).toMatchObject({
      name: 'train_model',
      type: 'command',
      version: '2',
      is_deterministic: true,
      environment: 'azureml:sklearn@latest',
      inputs: {
        data: { type: 'uri_folder', optional: false },
        lr: { type: 'number', default: 0.01, optional: false },
        epochs: { type: 'integer', optional: true },
        mode: { type: 'string', default: 'fast', optional: false },
      },
      outputs: { model: { type: 'mlflow_model' } },
    });
  });

  it('component with an inline environment gets environment defaults', () => {
    const spec = loadSpec('component', 'name: c\ncommand: echo hi\nenvironment: {image: alpine, python: 3.12, tags: {a: 1}}\nis_deterministic: false\n');
    expect(spec.environment).toEqual({ image: 'alpine', python: '3.12', tags: { a: '1' }, os_type: 'linux' });
    expect(spec.is_deterministic).toBe(false);
  });

  it('types the normalised result (defaults present, versions and tags as strings)', () => {
    const model = loadSpec('model', 'name: m\npath: p\n');
    const type: 'custom_model' | 'mlflow_model' | 'triton_model' = model.type;
    const version: string | undefined = model.version;
    const tags: Record<string, string> | undefined = model.tags;
    const component = loadSpec('component', 'name: c\ncommand: x\ninputs: {a: {type: string}}\n');
    const optional: boolean | undefined = component.inputs?.a?.optional;
    const deterministic: boolean = component.is_deterministic;
    expect([type, version, tags, optional, deterministic]).toEqual(['custom_model', undefined, undefined, false, true]);
  });
});

describe('loadSpec: every error at once, with line and column', () => {
  const text = yml(`
    name: -bad
    version: 1.0.0
    pth: ./model
    type: mlflow
    tags:
      owner: [a, b]
  `);

  it('reports all errors sorted by line, each with its path and position', () => {
    const { message, errors } = rejection('model', text, { file: 'model.yml' });
    expect(brief(errors)).toEqual([
      `1:1 path: required; add 'path:' (Local file or folder (uploaded on create), or a URI such as azureml://jobs/<job>/outputs/artifacts/paths/model)`,
      `1:7 name: must start with a letter or digit and contain only letters, digits, ".", "_" and "-" (got '-bad')`,
      `3:1 pth: unknown key 'pth' (did you mean 'path'?); valid keys: $schema, name, version, description, tags, path, type, flavors, properties, stage`,
      `4:7 type: must be one of custom_model, mlflow_model, triton_model (got 'mlflow')`,
      `6:10 tags.owner: must be a string, number or boolean (got a list)`,
    ]);
    const lines = message.split('\n');
    expect(lines[0]).toBe('model.yml has 5 errors:');
    expect(lines[4]).toBe(`  model.yml:4:7 type: must be one of custom_model, mlflow_model, triton_model (got 'mlflow')`);
  });

  it('defaults the file name to <spec> and counts one error in the singular', () => {
    const { message } = rejection('data', 'name: d\n');
    expect(message.split('\n')[0]).toBe('<spec> has 1 error:');
    expect(message).toContain("<spec>:1:1 path: required; add 'path:'");
  });

  it('points at nested values, list items and misspelled nested keys', () => {
    const { errors } = rejection(
      'environment',
      yml(`
        name: e
        conda_file:
          dependencies:
            - python=3.11
            - pip: [numpy, 3]
            - pipp: [x]
        build: {path: ., dockerfile: D}
        inference_config:
          scoring_route: {path: /score, port: 0}
      `),
    );
    expect(brief(errors)).toEqual([
      '5:20 conda_file.dependencies[1].pip[1]: must be a string (got 3)',
      `6:7 conda_file.dependencies[2].pip: required; add 'pip:' (pip requirement specifiers)`,
      `6:7 conda_file.dependencies[2].pipp: unknown key 'pipp' (did you mean 'pip'?); valid keys: pip`,
      `7:18 build.dockerfile: unknown key 'dockerfile' (did you mean 'dockerfile_path'?); valid keys: path, dockerfile_path`,
      '9:39 inference_config.scoring_route.port: must be at least 1 (got 0)',
    ]);
  });

  it('supports anchors and merge keys, with the anchor under an ignored key', () => {
    const spec = loadSpec('data', '_common: &common {type: uri_file, tags: {team: ml}}\n<<: *common\nname: d\npath: p.csv\n');
    expect(spec).toEqual({ name: 'd', path: 'p.csv', type: 'uri_file', tags: { team: 'ml' } });
  });

  it('ignores x- and _ keys but flags other typos', () => {
    const { errors } = rejection('data', 'name: d\npath: p\nx-note: 1\n_base: 2\ntpye: mltable\n');
    expect(brief(errors)).toEqual([`5:1 tpye: unknown key 'tpye' (did you mean 'type'?); valid keys: $schema, name, version, description, tags, path, type`]);
  });

  it('requires an environment source on the root path', () => {
    const { errors } = rejection('environment', 'name: e\nos_type: linux\n');
    expect(errors).toEqual([{ path: '', line: 1, column: 1, message: 'needs one of image, conda_file, build (e.g. image: python:3.11-slim)' }]);
  });

  it('checks names and versions', () => {
    const { errors } = rejection('model', `name: ${'m'.repeat(256)}\nversion: "1 0"\npath: p\n`);
    expect(brief(errors)).toEqual([
      '1:7 name: must be at most 255 characters (got 256)',
      `2:10 version: must start with a letter or digit and contain only letters, digits, ".", "_" and "-" (got '1 0')`,
    ]);
    expect(brief(rejection('component', 'name: TrainModel\ncommand: x\n').errors)).toEqual([
      `1:7 name: must start with a lowercase letter and contain only a-z, 0-9 and "_" (e.g. train_model) (got 'TrainModel')`,
    ]);
  });

  it('rejects an empty file and a non-mapping document', () => {
    expect(rejection('data', '').errors).toEqual([{ path: '', message: 'the spec is empty; a data spec needs at least: name, path' }]);
    expect(brief(rejection('model', '- a\n- b\n').errors)).toEqual(['1:1 : must be a mapping of keys (e.g. name: my-model), not a list']);
  });
});

describe('loadSpec: YAML syntax errors', () => {
  it('reports the position of a syntax error', () => {
    const { message, errors } = rejection('data', 'name: d\npath:\n\t- x\n', { file: 'data.yml' });
    expect(errors).toEqual([{ path: '', line: 3, column: 1, message: 'YAML syntax error: Tabs are not allowed as indentation' }]);
    expect(message).toBe('data.yml has 1 error:\n  data.yml:3:1 (root): YAML syntax error: Tabs are not allowed as indentation');
    expect(brief(rejection('data', 'name: d\npath: a: b\n').errors)).toEqual(['2:7 : YAML syntax error: Nested mappings are not allowed in compact mappings']);
  });

  it('reports duplicate keys where the duplicate is', () => {
    const { errors } = rejection('data', 'name: d\npath: a\npath: b\n');
    expect(brief(errors)).toEqual(['3:1 : YAML syntax error: Map keys must be unique']);
  });
});

describe('loadSpec: --set overrides', () => {
  const base = 'name: d\npath: ./data\ntags: {team: x}\n';

  it('sets top-level and nested values, parsing them as YAML scalars', () => {
    const spec = loadSpec('data', base, { set: ['type=mltable', 'version=1.10', 'tags.team=ml', 'tags.new=1', 'description=a: b'] });
    expect(spec).toMatchObject({ type: 'mltable', version: '1.10', description: 'a: b', tags: { team: 'ml', new: '1' } });
  });

  it('creates nested paths, including component inputs', () => {
    const spec = loadSpec('component', 'name: c\ncommand: echo ${{inputs.n}}\ninputs: {n: {type: integer}}\n', {
      set: ['inputs.n.default=5', 'is_deterministic=false', 'tags={a: 1}'],
    });
    expect(spec.inputs?.n).toEqual({ type: 'integer', default: 5, optional: false });
    expect(spec.is_deterministic).toBe(false);
    expect(spec.tags).toEqual({ a: '1' });
  });

  it('attributes errors in overridden values to the --set argument', () => {
    const { message, errors } = rejection('data', base, { file: 'd.yml', set: ['type=folder', 'tags.new.key=1'] });
    expect(brief(errors)).toEqual([
      `-:- tags.new: must be a string, number or boolean (got a mapping) (from --set tags.new.key=1)`,
      `-:- type: must be one of uri_folder, uri_file, mltable (got 'folder') (from --set type=folder)`,
    ]);
    expect(message).toContain(`d.yml type: must be one of uri_folder, uri_file, mltable (got 'folder') (from --set type=folder)`);
  });

  it('names bad override syntax, together with the other errors', () => {
    const { errors } = rejection('data', 'name: d\n', { set: ['oops', '=1', 'a..b=1', 'name.sub=1', 'path=p'] });
    expect(brief(errors)).toEqual([
      "-:- : invalid --set 'oops': expected key.path=value, e.g. --set version=2 or --set inputs.lr.default=0.01",
      "-:- : invalid --set '=1': expected key.path=value, e.g. --set version=2 or --set inputs.lr.default=0.01",
      "-:- : invalid --set 'a..b=1': expected key.path=value, e.g. --set version=2 or --set inputs.lr.default=0.01",
      "-:- : invalid --set 'name.sub=1': cannot set 'name.sub': a parent of it is not a mapping or list",
    ]);
  });

  it('rejects an override value that is not valid YAML', () => {
    const { errors } = rejection('data', base, { set: ['description="open'] });
    expect(errors[0]?.message).toMatch(/^invalid --set 'description="open': value is not valid YAML/);
  });
});

describe('loadSpec: component cross-field checks', () => {
  const component = (inputs: string, command = 'echo', extra = '') =>
    `name: c\ncommand: ${JSON.stringify(command)}\n${extra}inputs:\n${inputs
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n')}\n`;
  const errorsOf = (text: string) => brief(rejection('component', text).errors);

  it('rejects other component types', () => {
    expect(errorsOf('name: c\ntype: pipeline\ncommand: x\n')).toEqual([
      `2:7 type: only command components are supported today; use type: command (got 'pipeline')`,
    ]);
  });

  it('requires defaults to fit their type', () => {
    expect(
      errorsOf(component('a: {type: number, default: fast}\nb: {type: integer, default: 1.5}\nc: {type: boolean, default: "yes"}\nd: {type: string, default: 10}\ne: {type: uri_file, default: 1}')),
    ).toEqual([
      `4:30 inputs.a.default: must be a number for a number input (got 'fast')`,
      '5:31 inputs.b.default: must be an integer for an integer input (got 1.5)',
      `6:31 inputs.c.default: must be true or false for a boolean input (got 'yes')`,
      '7:30 inputs.d.default: must be a string for a string input (got 10); quote it: default: "10"',
      '8:32 inputs.e.default: must be a string for a uri_file input (got 1); quote it: default: "1"',
    ]);
  });

  it('requires defaults within min, max and enum', () => {
    expect(errorsOf(component('lr: {type: number, min: 0, max: 1, default: 2}\nmode: {type: string, enum: [a, b], default: c}'))).toEqual([
      '4:47 inputs.lr.default: 2 is above max 1; lower the default or raise max',
      `5:47 inputs.mode.default: must be one of the enum values a, b (got 'c')`,
    ]);
  });

  it('requires min <= max, numeric min/max and string-only enum', () => {
    expect(errorsOf(component('n: {type: integer, min: 5, max: 1}\ns: {type: string, min: 1}\nk: {type: number, enum: [a]}'))).toEqual([
      '4:27 inputs.n.min: min (5) must not exceed max (1); swap them',
      '5:26 inputs.s.min: min applies only to number and integer inputs (this one is string); remove it',
      '6:27 inputs.k.enum: enum applies only to string inputs (this one is number); use type: string or remove enum',
    ]);
  });

  it('checks input and output names, types and keys', () => {
    const text = `${component('bad-name: {type: string}\nx: {type: float, optinal: true}')}outputs:\n  m: {type: number}\n`;
    expect(errorsOf(text)).toEqual([
      '4:3 inputs.bad-name: input name \'bad-name\' must start with a letter or "_" and contain only letters, digits and "_" (e.g. bad_name)',
      '5:13 inputs.x.type: must be one of number, integer, boolean, string, uri_file, uri_folder, mltable, mlflow_model, custom_model (got \'float\')',
      `5:20 inputs.x.optinal: unknown key 'optinal' (did you mean 'optional'?); valid keys: type, description, default, optional, min, max, enum, mode`,
      `7:13 outputs.m.type: must be one of uri_file, uri_folder, mltable, mlflow_model, custom_model (got 'number')`,
    ]);
  });

  it('requires every ${{inputs.x}} and ${{outputs.y}} in command to be declared', () => {
    const text = `${component('lr: {type: number}', 'python t.py ${{inputs.lr}} ${{inputs.l_r}} ${{outputs.model}}')}`;
    expect(errorsOf(text)).toEqual([
      '2:10 command: ${{inputs.l_r}} is not a declared input; did you mean ${{inputs.lr}}? (declared: lr)',
      '2:10 command: ${{outputs.model}} is not a declared output; declare it under outputs:',
    ]);
  });

  it('requires optional inputs to sit inside $[[ ... ]]', () => {
    const inputs = 'epochs: {type: integer, optional: true}';
    expect(loadSpec('component', component(inputs, 'train $[[--epochs ${{inputs.epochs}}]]')).command).toBe('train $[[--epochs ${{inputs.epochs}}]]');
    expect(errorsOf(component(inputs, 'train --epochs ${{inputs.epochs}}'))).toEqual([
      "2:10 command: optional input 'epochs' is used outside $[[ ... ]]; wrap it, e.g. $[[--epochs ${{inputs.epochs}}]], or set optional: false",
    ]);
  });

  it('rejects an unclosed $[[', () => {
    expect(errorsOf(component('e: {type: integer, optional: true}', 'train $[[--epochs ${{inputs.e}}'))).toEqual([
      "2:10 command: '$[[' at character 7 is never closed; end the optional fragment with ']]', e.g. $[[--lr ${{inputs.lr}}]]",
      "2:10 command: optional input 'e' is used outside $[[ ... ]]; wrap it, e.g. $[[--e ${{inputs.e}}]], or set optional: false",
    ]);
  });

  it('checks environment references and inline environments', () => {
    expect(errorsOf('name: c\ncommand: x\nenvironment: azureml:env@prod\n')[0]).toMatch(
      /^3:14 environment: invalid environments reference 'azureml:env@prod': only the label 'latest' is supported .*accepted forms:/,
    );
    expect(errorsOf('name: c\ncommand: x\nenvironment: {os_type: linux, image: 5}\n')).toEqual([
      '3:38 environment.image: must be a string (got 5)',
    ]);
    expect(errorsOf('name: c\ncommand: x\nenvironment: {os_type: linux}\n')).toEqual([
      '3:14 environment: needs one of image, conda_file, build (e.g. image: python:3.11-slim)',
    ]);
  });

  it('checks resources and distribution', () => {
    expect(errorsOf('name: c\ncommand: x\nresources: {instance_count: 0}\ndistribution: {type: horovod}\n')).toEqual([
      '3:29 resources.instance_count: must be at least 1 (got 0)',
      `4:22 distribution.type: must be one of mpi, pytorch, tensorflow, ray (got 'horovod')`,
    ]);
  });
});

describe('validateSpec', () => {
  it('validates plain values without line information', () => {
    expect(validateSpec('model', { name: 'm', path: 'p', version: 2, tags: { a: 1 } })).toEqual([]);
    expect(validateSpec('model', { name: 'm', version: 1.5, 'x-any': 1 })).toEqual([
      { path: 'path', message: expect.stringMatching(/^required; add 'path:'/) as unknown as string },
      { path: 'version', message: 'must be a string or a non-negative integer (quote it, e.g. "1.0") (got 1.5)' },
    ]);
    expect(validateSpec('environment', { name: 'e' })).toEqual([{ path: '', message: 'needs one of image, conda_file, build (e.g. image: python:3.11-slim)' }]);
    expect(validateSpec('data', 'nope')).toEqual([{ path: '', message: 'must be a mapping of keys (e.g. name: my-data), not a single value' }]);
  });

  it('quotes awkward keys in paths', () => {
    expect(validateSpec('data', { name: 'd', path: 'p', tags: { 'a.b': null } })).toEqual([
      { path: 'tags["a.b"]', message: 'must be a string, number or boolean (got nothing)' },
    ]);
  });
});

describe('jsonSchemaFor', () => {
  it('returns plain JSON Schema with descriptions', () => {
    const schema = jsonSchemaFor('model') as { $schema: string; required: string[]; properties: Record<string, { description?: string }> };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.required).toEqual(['name', 'path']);
    for (const [key, field] of Object.entries(schema.properties)) expect(field.description, key).toBeTruthy();
    expect(Object.getOwnPropertySymbols(schema.properties.name)).toEqual([]);
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });

  it('describes every field of every kind, nested ones included', () => {
    for (const kind of ['model', 'data', 'environment', 'component'] as const) {
      const schema = jsonSchemaFor(kind) as { properties: Record<string, { description?: string }> };
      for (const [key, field] of Object.entries(schema.properties)) expect(field.description, `${kind}.${key}`).toBeTruthy();
    }
  });
});

describe('loadSpec: batch deployments', () => {
  it('reads the type: model form and the flat form alike, adding no defaults beside settings', () => {
    const nested = loadSpec('batch-deployment', yml(`
      name: blue
      endpoint_name: iris-batch
      type: model
      model: azureml:iris:1
      settings:
        mini_batch_size: 5
        retry_settings: {max_retries: 1}
        environment_variables: {RATIO: 1.10}
    `));
    expect(nested.settings).toEqual({ mini_batch_size: 5, retry_settings: { max_retries: 1 }, environment_variables: { RATIO: '1.10' } });
    expect(nested.mini_batch_size).toBeUndefined();
    const flat = loadSpec('batch-deployment', 'name: blue\nendpoint_name: iris-batch\nmodel: azureml:iris:1\nmini_batch_size: 5\nerror_threshold: -1\n');
    expect(flat).toMatchObject({ mini_batch_size: 5, error_threshold: -1 });
  });

  it('refuses a setting given twice, bad values and reserved variables, each with its line', () => {
    const { errors } = rejection('batch-deployment', yml(`
      name: blue
      endpoint_name: iris-batch
      model: azureml:iris:1
      error_threshold: -2
      output_file_name: ../escape.csv
      settings:
        error_threshold: 1
        environment_variables: {PATH: /bin}
    `));
    expect(brief(errors)).toEqual([
      expect.stringMatching(/^4:\d+ error_threshold: /),
      expect.stringMatching(/^5:\d+ output_file_name: must be a plain file name/),
      expect.stringMatching(/^7:\d+ settings.error_threshold: error_threshold is also given at the top level/),
      expect.stringMatching(/^8:\d+ settings.environment_variables.PATH: 'PATH' is reserved/),
    ]);
  });
});
