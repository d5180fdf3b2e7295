/**
 * Azure ML asset references: `azureml:<name>:<version>`, `azureml:<name>@latest`, the same without
 * the `azureml:` prefix, and registry URIs `azureml://registries/<reg>/<kind>/<name>/versions/<v>`
 * (or `/labels/latest`, or `@latest`). A bare name means the latest version, as in `az ml`.
 */
import { invalid } from '../core/errors.js';
import { ASSET_NAME_PATTERN, VERSION_PATTERN } from './schemas.js';

export type AssetKind = 'models' | 'data' | 'environments' | 'components';
export const ASSET_KINDS: readonly AssetKind[] = ['models', 'data', 'environments', 'components'];

export interface AssetRef {
  registry?: string;
  name: string;
  version?: string;
  label?: 'latest';
}

const NAME = new RegExp(ASSET_NAME_PATTERN);
const VERSION = new RegExp(VERSION_PATTERN);
const REGISTRY = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const REGISTRY_PREFIX = 'azureml://registries/';

function acceptedForms(kind: AssetKind): string {
  return [
    'azureml:<name>:<version>',
    'azureml:<name>@latest',
    'azureml:<name>',
    '<name>:<version>',
    '<name>@latest',
    `azureml://registries/<registry>/${kind}/<name>/versions/<version>`,
    `azureml://registries/<registry>/${kind}/<name>/labels/latest`,
    `azureml://registries/<registry>/${kind}/<name>@latest`,
  ].join(', ');
}

function fail(text: string, kind: AssetKind, why: string): never {
  throw invalid(`invalid ${kind} reference '${text}': ${why}; accepted forms: ${acceptedForms(kind)}`, { reference: text, kind });
}

function checkName(text: string, kind: AssetKind, name: string): string {
  if (name.length === 0) fail(text, kind, 'the name is empty');
  if (name.length > 255 || !NAME.test(name)) {
    fail(text, kind, `name '${name}' must be 1-255 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  return name;
}

function checkVersion(text: string, kind: AssetKind, version: string): string {
  if (version.length === 0) fail(text, kind, 'the version is empty');
  if (version.length > 64 || !VERSION.test(version)) {
    fail(text, kind, `version '${version}' must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  return version;
}

/** `<name>`, `<name>@latest` or `<name>:<version>`, after any `azureml:` prefix. */
function parseShort(text: string, kind: AssetKind, body: string): AssetRef {
  const at = body.indexOf('@');
  if (at >= 0) {
    const label = body.slice(at + 1);
    if (label !== 'latest') fail(text, kind, `only the label 'latest' is supported (got '@${label}')`);
    return { name: checkName(text, kind, body.slice(0, at)), label: 'latest' };
  }
  const colon = body.indexOf(':');
  if (colon < 0) return { name: checkName(text, kind, body), label: 'latest' };
  return { name: checkName(text, kind, body.slice(0, colon)), version: checkVersion(text, kind, body.slice(colon + 1)) };
}

/** `<reg>/<kind>/<name>/versions/<v>`, `<reg>/<kind>/<name>/labels/latest` or `<reg>/<kind>/<name>@latest`. */
function parseRegistry(text: string, kind: AssetKind, rest: string): AssetRef {
  const parts = rest.split('/');
  const [registry = '', segment = '', nameAndLabel = ''] = parts;
  if (!REGISTRY.test(registry)) fail(text, kind, `registry name '${registry}' must be letters, digits, "_" or "-"`);
  if (segment !== kind) {
    const what = (ASSET_KINDS as readonly string[]).includes(segment) ? `points at ${segment}` : `has '${segment}' where the asset kind goes`;
    fail(text, kind, `the URI ${what} but a reference to ${kind} is expected here`);
  }
  if (parts.length === 3 && nameAndLabel.includes('@')) {
    return { registry, ...parseShort(text, kind, nameAndLabel) };
  }
  const name = checkName(text, kind, nameAndLabel);
  if (parts.length === 5 && parts[3] === 'versions') return { registry, name, version: checkVersion(text, kind, parts[4] ?? '') };
  if (parts.length === 5 && parts[3] === 'labels') {
    if (parts[4] !== 'latest') fail(text, kind, `only the label 'latest' is supported (got '${parts[4] ?? ''}')`);
    return { registry, name, label: 'latest' };
  }
  return fail(text, kind, 'a registry URI must end in /versions/<version>, /labels/latest or @latest');
}

export function parseAssetRef(text: string, kind: AssetKind): AssetRef {
  if (text.trim() !== text || text.length === 0) fail(text, kind, 'it is empty or has surrounding whitespace');
  if (text.startsWith(REGISTRY_PREFIX)) return parseRegistry(text, kind, text.slice(REGISTRY_PREFIX.length));
  if (text.startsWith('azureml:/')) {
    fail(text, kind, 'only registry URIs (azureml://registries/...) are supported among azureml:/ URIs');
  }
  const body = text.startsWith('azureml:') ? text.slice('azureml:'.length) : text;
  if (body.includes('/')) fail(text, kind, 'a name cannot contain "/"');
  return parseShort(text, kind, body);
}

/** The canonical text: `azureml:` short forms for workspace assets, `/versions/` or `/labels/` URIs for registries. */
export function formatAssetRef(ref: AssetRef, kind: AssetKind): string {
  if (!ref.name) throw invalid(`a ${kind} reference needs a name`);
  if (ref.registry !== undefined) {
    const base = `${REGISTRY_PREFIX}${ref.registry}/${kind}/${ref.name}`;
    return ref.version !== undefined ? `${base}/versions/${ref.version}` : `${base}/labels/latest`;
  }
  return ref.version !== undefined ? `azureml:${ref.name}:${ref.version}` : `azureml:${ref.name}@latest`;
}
