import { describe, expect, it } from 'vitest';
import { curatedEnvironment, fromEnvironmentSpec } from './environments.js';

describe('job environments', () => {
  it('turns a conda spec into a python constraint and pip requirements', () => {
    const env = fromEnvironmentSpec('azureml:e:1', {
      conda_file: { dependencies: ['python=3.11', 'pip', 'numpy=1.26', 'conda-forge::pandas>=2', { pip: ['scikit-learn==1.5.2', 'mlflow'] }] },
    });
    expect(env.kind).toBe('venv');
    expect(env.python).toBe('3.11');
    expect(env.pip).toEqual(['numpy==1.26.*', 'pandas>=2', 'scikit-learn==1.5.2', 'mlflow']);
    expect(env.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes by content, not by name', () => {
    const a = fromEnvironmentSpec('azureml:a:1', { conda_file: { dependencies: [{ pip: ['tomli'] }] } });
    const b = fromEnvironmentSpec('azureml:b:7', { conda_file: { dependencies: [{ pip: ['tomli'] }] } });
    const c = fromEnvironmentSpec('azureml:c:1', { conda_file: { dependencies: [{ pip: ['tomli==2.0.1'] }] } });
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
  });

  it('runs image environments with the host Python and says so', () => {
    const env = fromEnvironmentSpec('azureml:img:1', { image: 'python:3.11-slim' });
    expect(env.kind).toBe('host');
    expect(env.note).toContain('host Python');
  });

  it('maps curated Azure ML names to pip sets', () => {
    const env = curatedEnvironment('AzureML-sklearn-1.5-ubuntu22.04-py39-cpu');
    expect(env?.pip).toContain('scikit-learn');
    expect(env?.python).toBeNull();
    expect(curatedEnvironment('my-env')).toBeUndefined();
  });

  it('refuses conda packages pip cannot express', () => {
    expect(() => fromEnvironmentSpec('e', { conda_file: { dependencies: ['cudatoolkit 11.8 h12345'] } })).toThrow(/pip requirement/);
  });
});
