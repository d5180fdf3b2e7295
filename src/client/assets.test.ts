import { describe, expect, it } from 'vitest';
import { LapisClient } from './index.js';

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

function fakeClient(reply: unknown): { client: LapisClient; seen: Seen[] } {
  const seen: Seen[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(input), method: init?.method ?? 'GET', headers: (init?.headers ?? {}) as Record<string, string>, body: init?.body });
    return new Response(JSON.stringify(reply), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { client: new LapisClient({ url: 'http://h', workspace: 'dev', fetch: fetchFn }), seen };
}

describe('asset API calls', () => {
  it('scope to the workspace, or to a registry with ?registry=', async () => {
    const { client, seen } = fakeClient({ data: [] });
    await client.data.list({ name: 'iris', includeArchived: true });
    await client.environments.get('env', 'latest', { registry: 'shared' });
    await client.models.lineage('churn', '3', { registry: 'shared' });
    expect(seen.map((s) => s.url)).toEqual([
      'http://h/workspaces/dev/api/v1/data?name=iris&include_archived=true',
      'http://h/workspaces/dev/api/v1/environments/env/versions/latest?registry=shared',
      'http://h/workspaces/dev/api/v1/models/churn/versions/3/lineage?registry=shared',
    ]);
  });

  it('sends specs with their content hash, shares with snake_case fields, resolves references', async () => {
    const { client, seen } = fakeClient({});
    await client.components.create({ name: 'train', command: 'x' }, { content: 'a'.repeat(64), registry: 'shared' });
    await client.models.share('churn', '3', { registry: 'shared', shareWithName: 'churn-prod', shareWithVersion: '1' });
    await client.resolve('data', 'azureml:iris@latest');
    expect(seen[0]).toMatchObject({ method: 'POST', url: 'http://h/workspaces/dev/api/v1/components?registry=shared' });
    expect(JSON.parse(String(seen[0]?.body))).toEqual({ spec: { name: 'train', command: 'x' }, content: 'a'.repeat(64) });
    expect(JSON.parse(String(seen[1]?.body))).toEqual({ registry: 'shared', share_with_name: 'churn-prod', share_with_version: '1' });
    expect(seen[2]?.url).toBe('http://h/workspaces/dev/api/v1/resolve?kind=data&ref=azureml%3Airis%40latest');
  });

  it('uploads a raw file body with its SHA-256 header, encoding each path segment', async () => {
    const { client, seen } = fakeClient({ path: 'a b/c#.txt', size: 3 });
    await client.content.put('f'.repeat(64), 'a b/c#.txt', 'e'.repeat(64), new Uint8Array([1, 2, 3]));
    expect(seen[0]).toMatchObject({ method: 'PUT', url: `http://h/workspaces/dev/api/v1/content/${'f'.repeat(64)}/files/a%20b/c%23.txt` });
    expect(seen[0]?.headers).toMatchObject({ 'x-lapis-sha256': 'e'.repeat(64), 'content-type': 'application/octet-stream' });
    expect(seen[0]?.body).toEqual(new Uint8Array([1, 2, 3]));
    await client.registries.list();
    expect(seen[1]?.url).toBe('http://h/api/v1/registries');
  });
});
