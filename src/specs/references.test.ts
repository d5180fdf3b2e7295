import { describe, expect, it } from 'vitest';
import { LapisError } from '../core/errors.js';
import { formatAssetRef, parseAssetRef } from './references.js';
import type { AssetKind, AssetRef } from './references.js';

function failure(text: string, kind: AssetKind): LapisError {
  try {
    parseAssetRef(text, kind);
  } catch (err) {
    if (err instanceof LapisError) return err;
    throw err;
  }
  throw new Error(`expected '${text}' to be rejected`);
}

describe('parseAssetRef', () => {
  it.each<[string, AssetKind, AssetRef]>([
    ['azureml:my-model:3', 'models', { name: 'my-model', version: '3' }],
    ['azureml:my-model@latest', 'models', { name: 'my-model', label: 'latest' }],
    ['my-model:1.2.0', 'models', { name: 'my-model', version: '1.2.0' }],
    ['my-model@latest', 'models', { name: 'my-model', label: 'latest' }],
    ['azureml:my-model', 'models', { name: 'my-model', label: 'latest' }],
    ['my_data', 'data', { name: 'my_data', label: 'latest' }],
    ['azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu:33', 'environments', { name: 'AzureML-sklearn-1.0-ubuntu20.04-py38-cpu', version: '33' }],
    ['azureml://registries/shared/components/train/versions/2', 'components', { registry: 'shared', name: 'train', version: '2' }],
    ['azureml://registries/azureml/environments/sklearn-1.5/labels/latest', 'environments', { registry: 'azureml', name: 'sklearn-1.5', label: 'latest' }],
    ['azureml://registries/shared/models/m@latest', 'models', { registry: 'shared', name: 'm', label: 'latest' }],
    ['azureml://registries/shared/data/d/versions/v1', 'data', { registry: 'shared', name: 'd', version: 'v1' }],
  ])('%s', (text, kind, expected) => {
    expect(parseAssetRef(text, kind)).toEqual(expected);
  });

  it('rejects a registry URI of another kind, naming both', () => {
    const err = failure('azureml://registries/shared/models/m/versions/1', 'environments');
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('points at models but a reference to environments is expected');
  });

  it.each<[string, string]>([
    ['', 'empty'],
    [' azureml:m:1', 'whitespace'],
    ['azureml:m@prod', "only the label 'latest' is supported (got '@prod')"],
    ['azureml:m:', 'the version is empty'],
    ['azureml::1', 'the name is empty'],
    ['azureml:-m:1', "name '-m' must be 1-255 letters"],
    ['azureml:m:1 0', "version '1 0' must be 1-64"],
    ['./models/m.yml', 'a name cannot contain "/"'],
    ['azureml:/subscriptions/x/resourceGroups/y', 'only registry URIs'],
    ['azureml://datastores/ds/paths/p', 'only registry URIs'],
    ['azureml://registries/shared/models/m', 'must end in /versions/<version>, /labels/latest or @latest'],
    ['azureml://registries/shared/models/m/labels/prod', "only the label 'latest' is supported (got 'prod')"],
    ['azureml://registries/shared/models/m/versions/1/extra', 'must end in /versions/<version>'],
    ['azureml://registries/sh@red/models/m/versions/1', "registry name 'sh@red'"],
    ['azureml://registries/shared/widgets/m/versions/1', "has 'widgets' where the asset kind goes"],
  ])('rejects %j', (text, why) => {
    const err = failure(text, 'models');
    expect(err.message).toContain(why);
    // Every rejection teaches the accepted forms.
    expect(err.message).toContain('accepted forms: azureml:<name>:<version>, azureml:<name>@latest');
    expect(err.message).toContain('azureml://registries/<registry>/models/<name>/versions/<version>');
    expect(err.details).toEqual({ reference: text, kind: 'models' });
  });
});

describe('formatAssetRef', () => {
  it('writes the canonical forms', () => {
    expect(formatAssetRef({ name: 'm', version: '3' }, 'models')).toBe('azureml:m:3');
    expect(formatAssetRef({ name: 'm', label: 'latest' }, 'models')).toBe('azureml:m@latest');
    expect(formatAssetRef({ name: 'm' }, 'models')).toBe('azureml:m@latest');
    expect(formatAssetRef({ registry: 'r', name: 'e', version: '1' }, 'environments')).toBe('azureml://registries/r/environments/e/versions/1');
    expect(formatAssetRef({ registry: 'r', name: 'e', label: 'latest' }, 'environments')).toBe('azureml://registries/r/environments/e/labels/latest');
  });

  it('round-trips through parseAssetRef', () => {
    const refs: AssetRef[] = [
      { name: 'a', version: '1' },
      { name: 'a.b-c_d', label: 'latest' },
      { registry: 'r1', name: 'x', version: '2.0' },
      { registry: 'r1', name: 'x', label: 'latest' },
    ];
    for (const ref of refs) expect(parseAssetRef(formatAssetRef(ref, 'components'), 'components')).toEqual(ref);
  });

  it('refuses a reference without a name', () => {
    expect(() => formatAssetRef({ name: '' }, 'data')).toThrow('needs a name');
  });
});
