/**
 * TypeBox schemas for Azure-ML-compatible asset YAML (model, data, environment, command component).
 *
 * They serve two masters: `load.ts` validates with them, and `jsonSchemaFor()` hands them to editors
 * as JSON Schema. So every field carries a `description`, and pattern fields carry
 * `patternErrorMessage` (the VS Code / yaml-language-server extension keyword), which `load.ts`
 * also uses for its own messages. Unions are value-shaped (string | object, string | integer) so
 * errors can be attributed to the variant that matches the value's kind.
 */
import { Type } from '@sinclair/typebox';
import type { Static, TLiteral, TObject, TSchema, TUnion } from '@sinclair/typebox';

export type SpecKind = 'model' | 'data' | 'environment' | 'component' | 'job' | 'compute' | 'online-endpoint' | 'online-deployment' | 'batch-endpoint' | 'batch-deployment' | 'mltable';
export const SPEC_KINDS: readonly SpecKind[] = ['model', 'data', 'environment', 'component', 'job', 'compute', 'online-endpoint', 'online-deployment', 'batch-endpoint', 'batch-deployment', 'mltable'];

/** Keys starting with these are ignored at the top level (YAML anchors, editor or tool metadata). */
export const IGNORED_KEY_PATTERN = /^(x-|_)/;

export const ASSET_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';
export const COMPONENT_NAME_PATTERN = '^[a-z][a-z0-9_]*$';
export const VERSION_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';
export const IO_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

/** A union of string literals; load.ts turns a failed match into "must be one of a, b, c". */
function oneOf<const T extends readonly string[]>(values: T, options: { description: string; default?: T[number] }): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  );
}

// ------------------------------------------------------------------ common fields

const scalarValue = Type.Union([Type.String(), Type.Number(), Type.Boolean()], {
  errorMessage: 'must be a string, number or boolean',
});

const stringMap = (description: string) =>
  Type.Record(Type.String(), scalarValue, { description: `${description} Numbers and booleans are stored as strings.` });

const version = Type.Union(
  [
    Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: VERSION_PATTERN,
      patternErrorMessage: 'must start with a letter or digit and contain only letters, digits, ".", "_" and "-"',
    }),
    Type.Integer({ minimum: 0 }),
  ],
  {
    description: 'Version of the asset (e.g. 1 or "1.2.0"). Omit it to get the next version number.',
    errorMessage: 'must be a string or a non-negative integer (quote it, e.g. "1.0")',
  },
);

const schemaUrl = Type.String({ description: 'URL of the JSON Schema, for editors; ignored by Lapis.' });
const description = Type.String({ description: 'Free-text description.' });
const displayName = Type.String({ description: 'Human-friendly name shown in the UI.' });
const tags = stringMap('Key/value tags for search and filtering.');

const assetName = (what: string) =>
  Type.String({
    description: `Name of the ${what}; 1-255 characters of letters, digits, ".", "_" and "-", starting with a letter or digit.`,
    minLength: 1,
    maxLength: 255,
    pattern: ASSET_NAME_PATTERN,
    patternErrorMessage: 'must start with a letter or digit and contain only letters, digits, ".", "_" and "-"',
  });

/** Closed objects catch typos; `x-*` and `_*` keys stay legal for editors (load.ts strips them). */
const topLevel = { additionalProperties: false, patternProperties: { '^(x-|_)': {} } } as const;

// ------------------------------------------------------------------ model

export const MODEL_TYPES = ['custom_model', 'mlflow_model', 'triton_model'] as const;

export const ModelSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    name: assetName('model'),
    version: Type.Optional(version),
    description: Type.Optional(description),
    tags: Type.Optional(tags),
    path: Type.String({
      minLength: 1,
      description: 'Local file or folder (uploaded on create), or a URI such as azureml://jobs/<job>/outputs/artifacts/paths/model.',
    }),
    type: Type.Optional(
      oneOf(MODEL_TYPES, {
        default: 'custom_model',
        description: 'custom_model: opaque files; mlflow_model: a folder with an MLmodel file; triton_model: a Triton model repository.',
      }),
    ),
    flavors: Type.Optional(Type.Object({}, { description: 'MLflow flavors, as in the MLmodel file.' })),
    properties: Type.Optional(stringMap('Immutable key/value properties.')),
    stage: Type.Optional(Type.String({ description: 'Lifecycle stage, e.g. Development, Production, Archived.' })),
  },
  { ...topLevel, title: 'Lapis model', description: 'A model asset (Azure ML model YAML).' },
);

// ------------------------------------------------------------------ data

export const DATA_TYPES = ['uri_folder', 'uri_file', 'mltable'] as const;

export const DataSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    name: assetName('data asset'),
    version: Type.Optional(version),
    description: Type.Optional(description),
    tags: Type.Optional(tags),
    path: Type.String({
      minLength: 1,
      description: 'Local path (uploaded on create), or azureml://datastores/<ds>/paths/<p>, https://, wasbs://, abfss:// URI.',
    }),
    type: Type.Optional(
      oneOf(DATA_TYPES, {
        default: 'uri_folder',
        description: 'uri_folder: a folder; uri_file: a single file; mltable: a folder with an MLTable file.',
      }),
    ),
  },
  { ...topLevel, title: 'Lapis data asset', description: 'A data asset (Azure ML data YAML).' },
);

// ------------------------------------------------------------------ environment

const pipDependencies = Type.Object(
  { pip: Type.Array(Type.String(), { description: 'pip requirement specifiers.' }) },
  { additionalProperties: false, description: 'pip packages installed after the conda packages.' },
);

const condaSpec = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'Conda environment name.' })),
    channels: Type.Optional(Type.Array(Type.String(), { description: 'Conda channels, e.g. conda-forge.' })),
    dependencies: Type.Array(Type.Union([Type.String(), pipDependencies], { errorMessage: 'must be a conda package string or {pip: [...]}' }), {
      description: 'Conda packages (e.g. python=3.11), and a {pip: [...]} entry for pip packages.',
    }),
  },
  { description: 'Inline conda environment (the contents of conda.yml).' },
);

const route = Type.Object(
  {
    path: Type.String({ description: 'HTTP path, e.g. /score.' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, description: 'Container port.' }),
  },
  { additionalProperties: false },
);

/** The fields that describe how to get an image; shared by named environments and inline ones. */
const environmentBody = {
  image: Type.Optional(Type.String({ minLength: 1, description: 'Base Docker image, e.g. python:3.11-slim.' })),
  conda_file: Type.Optional(
    Type.Union([Type.String({ minLength: 1 }), condaSpec], {
      description: 'Path to a conda.yml, or the conda environment inline.',
      errorMessage: 'must be a path to a conda file or an inline conda environment ({dependencies: [...]})',
    }),
  ),
  build: Type.Optional(
    Type.Object(
      {
        path: Type.String({ minLength: 1, description: 'Docker build context (a local folder or URL).' }),
        dockerfile_path: Type.Optional(Type.String({ default: 'Dockerfile', description: 'Dockerfile path relative to the build context.' })),
      },
      { additionalProperties: false, description: 'Build the image from a Docker build context.' },
    ),
  ),
  os_type: Type.Optional(oneOf(['linux', 'windows'] as const, { default: 'linux', description: 'Operating system of the image.' })),
  inference_config: Type.Optional(
    Type.Object(
      {
        liveness_route: Type.Optional(route),
        readiness_route: Type.Optional(route),
        scoring_route: Type.Optional(route),
      },
      { additionalProperties: false, description: 'Routes of a custom serving container.' },
    ),
  ),
  python: Type.Optional(
    Type.Union([Type.String({ minLength: 1 }), Type.Number()], {
      description: 'Lapis extension: Python version constraint, e.g. "3.11" or ">=3.10,<3.13".',
      errorMessage: 'must be a Python version constraint string, e.g. "3.11"',
    }),
  ),
};

/** At least one of these is required; load.ts checks it (JSON Schema `anyOf required` reads badly). */
export const ENVIRONMENT_SOURCES = ['image', 'conda_file', 'build'] as const;

export const EnvironmentSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    name: assetName('environment'),
    version: Type.Optional(version),
    description: Type.Optional(description),
    tags: Type.Optional(tags),
    ...environmentBody,
  },
  { ...topLevel, title: 'Lapis environment', description: 'An environment asset (Azure ML environment YAML). Needs image, conda_file or build.' },
);

/** An environment written inside a component: no name or version of its own. */
const InlineEnvironmentSchema = Type.Object(
  { description: Type.Optional(description), tags: Type.Optional(tags), ...environmentBody },
  { additionalProperties: false, description: 'Inline environment (image, conda_file or build).' },
);

// ------------------------------------------------------------------ component

export const INPUT_TYPES = ['number', 'integer', 'boolean', 'string', 'uri_file', 'uri_folder', 'mltable', 'mlflow_model', 'custom_model'] as const;
export const OUTPUT_TYPES = ['uri_file', 'uri_folder', 'mltable', 'mlflow_model', 'custom_model'] as const;

const ComponentInputSchema = Type.Object(
  {
    type: oneOf(INPUT_TYPES, { description: 'Literal (number, integer, boolean, string) or data/model input type.' }),
    description: Type.Optional(description),
    default: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()], { description: 'Value used when the input is not given.', errorMessage: 'must be a string, number or boolean' })),
    optional: Type.Optional(Type.Boolean({ default: false, description: 'If true the input may be omitted; use it in command only inside $[[ ... ]].' })),
    min: Type.Optional(Type.Number({ description: 'Minimum (number and integer inputs).' })),
    max: Type.Optional(Type.Number({ description: 'Maximum (number and integer inputs).' })),
    enum: Type.Optional(Type.Array(Type.String(), { minItems: 1, description: 'Allowed values (string inputs).' })),
    mode: Type.Optional(oneOf(['ro_mount', 'download', 'direct', 'eval_mount', 'eval_download'] as const, { description: 'How data inputs reach the job.' })),
  },
  { additionalProperties: false },
);

const ComponentOutputSchema = Type.Object(
  {
    type: oneOf(OUTPUT_TYPES, { description: 'Output type.' }),
    description: Type.Optional(description),
    mode: Type.Optional(oneOf(['rw_mount', 'upload'] as const, { description: 'How outputs leave the job.' })),
  },
  { additionalProperties: false },
);

/** Port names are checked in load.ts (TypeBox stops a Record at its first bad key); `propertyNames` is for editors. */
const ports = <T extends TSchema>(schema: T, what: string) =>
  Type.Record(Type.String(), schema, {
    description: `Component ${what}, by name.`,
    propertyNames: { pattern: IO_NAME_PATTERN },
  });

export const ComponentSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    name: Type.String({
      description: 'Component name: a lowercase letter, then lowercase letters, digits and "_" (at most 255 characters).',
      minLength: 1,
      maxLength: 255,
      pattern: COMPONENT_NAME_PATTERN,
      patternErrorMessage: 'must start with a lowercase letter and contain only a-z, 0-9 and "_" (e.g. train_model)',
    }),
    version: Type.Optional(version),
    display_name: Type.Optional(displayName),
    description: Type.Optional(description),
    tags: Type.Optional(tags),
    type: Type.Optional(
      Type.Literal('command', {
        default: 'command',
        description: 'Component type; only command is supported.',
        errorMessage: 'only command components are supported today; use type: command',
      }),
    ),
    command: Type.String({ minLength: 1, description: 'Shell command; reference ports as ${{inputs.x}} and ${{outputs.y}}.' }),
    code: Type.Optional(Type.String({ minLength: 1, description: 'Local source folder, uploaded as a snapshot.' })),
    environment: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), InlineEnvironmentSchema], {
        description: 'Environment reference (azureml:<name>:<version>, azureml:<name>@latest, registry URI) or an inline environment.',
        errorMessage: 'must be an environment reference (e.g. azureml:my-env:1) or an inline environment ({image: ...})',
      }),
    ),
    is_deterministic: Type.Optional(Type.Boolean({ default: true, description: 'If true, identical runs may be reused instead of rerun.' })),
    distribution: Type.Optional(
      Type.Object(
        {
          type: oneOf(['mpi', 'pytorch', 'tensorflow', 'ray'] as const, { description: 'Distributed training framework.' }),
          process_count_per_instance: Type.Optional(Type.Integer({ minimum: 1, description: 'Processes per node (mpi, pytorch).' })),
          worker_count: Type.Optional(Type.Integer({ minimum: 1, description: 'Workers (tensorflow).' })),
          parameter_server_count: Type.Optional(Type.Integer({ minimum: 0, description: 'Parameter servers (tensorflow).' })),
        },
        { description: 'Distributed training settings.' },
      ),
    ),
    resources: Type.Optional(
      Type.Object(
        { instance_count: Type.Optional(Type.Integer({ minimum: 1, description: 'Number of nodes.' })) },
        { description: 'Compute resources.' },
      ),
    ),
    inputs: Type.Optional(ports(ComponentInputSchema, 'inputs')),
    outputs: Type.Optional(ports(ComponentOutputSchema, 'outputs')),
  },
  { ...topLevel, title: 'Lapis command component', description: 'A command component (Azure ML command component YAML).' },
);

// ------------------------------------------------------------------ command job

export const JOB_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$';
export const INPUT_MODES = ['ro_mount', 'download', 'direct', 'eval_mount', 'eval_download'] as const;
export const OUTPUT_MODES = ['rw_mount', 'upload'] as const;
export const DATA_INPUT_TYPES = ['uri_file', 'uri_folder', 'mltable', 'mlflow_model', 'custom_model'] as const;

const JobDataInputSchema = Type.Object(
  {
    type: Type.Optional(oneOf(DATA_INPUT_TYPES, { default: 'uri_folder', description: 'What the path holds.' })),
    path: Type.String({
      minLength: 1,
      description: 'Local path (uploaded at submit), a data or model reference (azureml:name:version, name@latest), azureml://jobs/<job>/outputs/<name>, azureml://datastores/<ds>/paths/<path>, or an http(s) URL.',
    }),
    mode: Type.Optional(oneOf(INPUT_MODES, { default: 'ro_mount', description: 'ro_mount: read-only local copy; download: writable copy; direct: the URI itself is passed.' })),
    description: Type.Optional(description),
  },
  { additionalProperties: false },
);

const JobInputSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean(), JobDataInputSchema], {
  description: 'A literal value (string, number, boolean), or a data/model input {type, path, mode}.',
  errorMessage: 'must be a literal (string, number, boolean) or a data input {type, path, mode}',
});

const JobOutputSchema = Type.Union(
  [
    Type.Null(),
    Type.Object(
      {
        type: Type.Optional(oneOf(OUTPUT_TYPES, { default: 'uri_folder', description: 'Output type.' })),
        mode: Type.Optional(oneOf(OUTPUT_MODES, { default: 'rw_mount', description: 'Both upload the output when the job ends (local compute has no mounts).' })),
        path: Type.Optional(Type.String({ description: 'Also write the output to this datastore path: azureml://datastores/workspaceblobstore/paths/<path>.' })),
        name: Type.Optional(assetName('asset to register the output as')),
        version: Type.Optional(version),
        description: Type.Optional(description),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'An output; with name (and version) it is registered as a data asset or model when the job completes.', errorMessage: 'must be empty or an output {type, mode, name, version}' },
);

export const JobSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    type: Type.Optional(Type.Literal('command', { default: 'command', description: 'Job type.', errorMessage: 'only command jobs are supported today; use type: command' })),
    name: Type.Optional(
      Type.String({
        pattern: JOB_NAME_PATTERN,
        patternErrorMessage: 'must start with a letter or digit and contain only letters, digits, "_" and "-" (at most 255 characters)',
        description: 'Job name, unique in the server; it is also the MLflow run id. Omit it for a generated one.',
      }),
    ),
    display_name: Type.Optional(displayName),
    experiment_name: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Experiment the job run is filed under (created if missing). Defaults to the YAML file\'s folder name.' })),
    description: Type.Optional(description),
    tags: Type.Optional(tags),
    properties: Type.Optional(stringMap('Key/value properties.')),
    command: Type.String({ minLength: 1, description: 'Shell command, run in the code folder; ${{inputs.x}}, ${{outputs.y}} and $[[ optional ]] fragments are bound.' }),
    code: Type.Optional(Type.String({ minLength: 1, description: 'Local source folder, uploaded as a content-hashed snapshot (.amlignore / .gitignore honoured).' })),
    environment: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), InlineEnvironmentSchema], {
        description: 'Environment reference (azureml:<name>:<version>, @latest, registry URI, curated AzureML-* name) or an inline environment. Omitted: the host Python.',
        errorMessage: 'must be an environment reference (e.g. azureml:my-env:1) or an inline environment ({conda_file: ...})',
      }),
    ),
    environment_variables: Type.Optional(stringMap('Environment variables of the job process.')),
    compute: Type.Optional(Type.String({ minLength: 1, description: "Compute target: 'local' (default) or azureml:<name> of a compute target." })),
    resources: Type.Optional(
      Type.Object(
        {
          instance_count: Type.Optional(Type.Integer({ minimum: 1, default: 1, description: 'Copies of the command (slots taken on the compute target).' })),
          instance_type: Type.Optional(Type.String({ description: 'Recorded for cluster backends.' })),
          shm_size: Type.Optional(Type.String({ description: 'Recorded for cluster backends.' })),
          docker_args: Type.Optional(Type.String({ description: 'Recorded for cluster backends.' })),
        },
        { additionalProperties: false, description: 'Resources of the job.' },
      ),
    ),
    limits: Type.Optional(
      Type.Object({ timeout: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds the command may run before it is killed.' })) }, { additionalProperties: false }),
    ),
    distribution: Type.Optional(Type.Object({ type: oneOf(['mpi', 'pytorch', 'tensorflow', 'ray'] as const, { description: 'Distributed training framework.' }) }, { description: 'Recorded; local compute runs instance_count copies with rank variables.' })),
    identity: Type.Optional(Type.Object({}, { description: 'Recorded; local jobs act as their submitter.' })),
    queue_settings: Type.Optional(Type.Object({}, { description: 'Recorded for cluster backends.' })),
    services: Type.Optional(Type.Object({}, { description: 'Recorded for cluster backends.' })),
    inputs: Type.Optional(Type.Record(Type.String(), JobInputSchema, { description: 'Job inputs by name.', propertyNames: { pattern: IO_NAME_PATTERN } })),
    outputs: Type.Optional(Type.Record(Type.String(), JobOutputSchema, { description: 'Job outputs by name.', propertyNames: { pattern: IO_NAME_PATTERN } })),
  },
  { ...topLevel, title: 'Lapis command job', description: 'A command job (Azure ML command job YAML).' },
);

// ------------------------------------------------------------------ compute

export const COMPUTE_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9-]{1,31}$';

export const ComputeSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    name: Type.String({
      pattern: COMPUTE_NAME_PATTERN,
      patternErrorMessage: 'must be 2-32 letters, digits and "-", starting with a letter',
      description: 'Compute target name, used as compute: azureml:<name>.',
    }),
    type: Type.Optional(
      oneOf(['local', 'amlcompute'] as const, { default: 'local', description: 'local: process slots on the server machine (amlcompute files are accepted and run locally).' }),
    ),
    description: Type.Optional(description),
    tags: Type.Optional(tags),
    max_instances: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, default: 1, description: 'Slots: jobs beyond them wait in the queue.' })),
    min_instances: Type.Optional(Type.Integer({ minimum: 0, description: 'Recorded (local slots need no scaling).' })),
    size: Type.Optional(Type.String({ description: 'Recorded (the VM size on Azure).' })),
    tier: Type.Optional(Type.String({ description: 'Recorded.' })),
    idle_time_before_scale_down: Type.Optional(Type.Integer({ minimum: 0, description: 'Recorded.' })),
    location: Type.Optional(Type.String({ description: 'Recorded.' })),
  },
  { ...topLevel, title: 'Lapis compute target', description: 'A compute target (Azure ML compute YAML).' },
);

// ------------------------------------------------------------------ online endpoints and deployments

export const ENDPOINT_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$';
export const DEPLOYMENT_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9-]{0,31}$';

const trafficMap = (what: string) =>
  Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: 100 }), { description: `${what}: deployment name → percent.` });

export const OnlineEndpointSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    name: Type.String({
      pattern: ENDPOINT_NAME_PATTERN,
      patternErrorMessage: 'must be 3-32 letters, digits and "-", starting with a letter and not ending with "-"',
      description: 'Endpoint name, unique on the server; the scoring URL is /endpoints/<name>/score.',
    }),
    description: Type.Optional(description),
    tags: Type.Optional(tags),
    auth_mode: Type.Optional(oneOf(['key', 'aml_token'] as const, { default: 'key', description: 'key: two endpoint keys; aml_token: a Lapis token with endpoint rights.' })),
    traffic: Type.Optional(trafficMap('Live traffic split, summing to 0 or 100')),
    mirror_traffic: Type.Optional(trafficMap('Mirrored traffic (not supported yet)')),
    identity: Type.Optional(Type.Object({}, { description: 'Recorded.' })),
    public_network_access: Type.Optional(Type.String({ description: 'Recorded.' })),
    compute: Type.Optional(Type.String({ description: 'Recorded (Kubernetes endpoints).' })),
  },
  { ...topLevel, title: 'Lapis online endpoint', description: 'An online endpoint (Azure ML managed online endpoint YAML).' },
);

const probe = Type.Object(
  {
    initial_delay: Type.Optional(Type.Integer({ minimum: 0, description: 'Seconds before the first probe.' })),
    period: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds between probes.' })),
    timeout: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds a probe may take.' })),
    success_threshold: Type.Optional(Type.Integer({ minimum: 1, description: 'Successes to count as healthy.' })),
    failure_threshold: Type.Optional(Type.Integer({ minimum: 1, description: 'Failures to count as unhealthy.' })),
  },
  { additionalProperties: false },
);

/** Azure ML writes booleans of the data collector as strings ('True'); both forms are taken. */
const flag = Type.Union([Type.Boolean(), oneOf(['True', 'False', 'true', 'false'] as const, { description: 'A boolean, also as a string.' })], {
  errorMessage: "must be true or false (or 'True' / 'False')",
});

export const DATA_COLLECTIONS = ['request', 'response', 'model_inputs', 'model_outputs'] as const;

const collection = Type.Object(
  {
    enabled: Type.Optional(flag),
    data: Type.Optional(
      Type.Object(
        { path: Type.Optional(Type.String({ minLength: 1, description: 'azureml://datastores/<datastore>/paths/<path>: where the records go.' })) },
        { additionalProperties: false, description: "Where the collection's records are written." },
      ),
    ),
  },
  { additionalProperties: false },
);

const dataCollector = Type.Object(
  {
    collections: Type.Partial(Type.Object(Object.fromEntries(DATA_COLLECTIONS.map((c) => [c, collection])) as Record<(typeof DATA_COLLECTIONS)[number], typeof collection>), {
      additionalProperties: false,
      description: 'request/response: the HTTP payloads; model_inputs/model_outputs: the rows scored and their predictions.',
    }),
    sampling_rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 1, description: 'Share of requests recorded, 0 to 1.' })),
    rolling_rate: Type.Optional(oneOf(['minute', 'hour', 'day', 'Minute', 'Hour', 'Day'] as const, { default: 'hour', description: 'How often a new folder of records starts.' })),
  },
  { additionalProperties: false, description: 'Records sampled requests and answers, with a correlation id, in a datastore (for monitoring).' },
);

export const OnlineDeploymentSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    name: Type.String({ pattern: DEPLOYMENT_NAME_PATTERN, patternErrorMessage: 'must be 1-32 letters, digits and "-", starting with a letter', description: 'Deployment name, unique in its endpoint.' }),
    endpoint_name: Type.String({ pattern: ENDPOINT_NAME_PATTERN, patternErrorMessage: 'must name an endpoint (3-32 letters, digits and "-")', description: 'The endpoint this deployment serves.' }),
    description: Type.Optional(description),
    tags: Type.Optional(tags),
    type: Type.Optional(oneOf(['managed', 'kubernetes'] as const, { default: 'managed', description: 'Recorded; local instances either way.' })),
    model: Type.String({ minLength: 1, description: 'Model reference: azureml:<name>:<version>, <name>@latest, or a registry URI.' }),
    model_mount_path: Type.Optional(Type.String({ description: 'Recorded; the model folder is AZUREML_MODEL_DIR.' })),
    code_configuration: Type.Optional(
      Type.Object(
        {
          code: Type.String({ minLength: 1, description: 'Local folder with the scoring script, uploaded as a snapshot.' }),
          scoring_script: Type.String({ minLength: 1, description: 'Script (relative to code) with init() and run(raw_data).' }),
        },
        { additionalProperties: false, description: 'A score.py; omit it for a no-code MLflow model deployment.' },
      ),
    ),
    environment: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), InlineEnvironmentSchema], {
        description: 'Environment reference or inline environment; omitted for an MLflow model: built from its requirements.',
        errorMessage: 'must be an environment reference (e.g. azureml:my-env:1) or an inline environment',
      }),
    ),
    environment_variables: Type.Optional(stringMap('Variables of the scoring process.')),
    instance_type: Type.Optional(Type.String({ description: 'Recorded (the VM size on Azure).' })),
    instance_count: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, default: 1, description: 'Scoring processes.' })),
    request_settings: Type.Optional(
      Type.Object(
        {
          request_timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 180_000, default: 5000, description: 'Time a request may take before 408.' })),
          max_concurrent_requests_per_instance: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1, description: 'Requests in flight per instance; beyond them, 429.' })),
          max_queue_wait_ms: Type.Optional(Type.Integer({ minimum: 0, description: 'Recorded.' })),
        },
        { additionalProperties: false },
      ),
    ),
    liveness_probe: Type.Optional(probe),
    readiness_probe: Type.Optional(probe),
    scale_settings: Type.Optional(Type.Object({}, { description: 'Recorded.' })),
    app_insights_enabled: Type.Optional(Type.Boolean({ description: 'Recorded.' })),
    egress_public_network_access: Type.Optional(Type.String({ description: 'Recorded.' })),
    data_collector: Type.Optional(dataCollector),
  },
  { ...topLevel, title: 'Lapis online deployment', description: 'An online deployment (Azure ML managed online deployment YAML).' },
);


// ------------------------------------------------------------------ batch endpoints and deployments

export const BatchEndpointSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    name: Type.String({
      pattern: ENDPOINT_NAME_PATTERN,
      patternErrorMessage: 'must be 3-32 letters, digits and "-", starting with a letter and not ending with "-"',
      description: 'Endpoint name, unique in the workspace; invoked at /batch-endpoints/<name>/invoke.',
    }),
    description: Type.Optional(description),
    tags: Type.Optional(tags),
    auth_mode: Type.Optional(
      oneOf(['aad_token', 'aml_token'] as const, { default: 'aad_token', description: 'Batch endpoints take a token (a Lapis token here, an Entra token on Azure); keys do not exist for them.' }),
    ),
    defaults: Type.Optional(
      Type.Object(
        { deployment_name: Type.Optional(Type.String({ pattern: DEPLOYMENT_NAME_PATTERN, patternErrorMessage: 'must name a deployment (1-32 letters, digits and "-")', description: 'The deployment an invocation runs when it names none.' })) },
        { additionalProperties: false, description: 'Defaults of the endpoint.' },
      ),
    ),
    properties: Type.Optional(stringMap('Key/value properties.')),
    identity: Type.Optional(Type.Object({}, { description: 'Recorded.' })),
  },
  { ...topLevel, title: 'Lapis batch endpoint', description: 'A batch endpoint (Azure ML batch endpoint YAML).' },
);

export const BATCH_OUTPUT_ACTIONS = ['append_row', 'summary_only'] as const;
export const BATCH_LOGGING_LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export const OUTPUT_FILE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
export const SCORING_SCRIPT_PATTERN = '^(\\./)?[A-Za-z0-9_][A-Za-z0-9_./-]*\\.py$';

/** What Azure ML's batch deployment holds both at the top level (the older form) and under `settings:` (type: model). */
const batchSettingFields = {
  mini_batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Items per run() call: files of a uri_folder input, rows of a tabular uri_file input (default 10).' })),
  max_concurrency_per_instance: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'Scoring worker processes per instance (default 1).' })),
  error_threshold: Type.Optional(Type.Integer({ minimum: -1, description: 'Failed items (files or rows) tolerated before the job fails; -1 (the default) ignores all failures.' })),
  output_action: Type.Optional(oneOf(BATCH_OUTPUT_ACTIONS, { description: "append_row: every mini-batch's rows go to output_file_name; summary_only: no predictions file (default append_row)." })),
  output_file_name: Type.Optional(Type.String({ pattern: OUTPUT_FILE_PATTERN, patternErrorMessage: 'must be a plain file name (letters, digits, ".", "_", "-"), e.g. predictions.csv', description: 'Name of the predictions file in the job output score (default predictions.csv).' })),
  retry_settings: Type.Optional(
    Type.Object(
      {
        max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'Retries of a mini-batch that failed or timed out (default 3).' })),
        timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'Seconds one run() call may take; then its worker is killed and the mini-batch retried (default 30).' })),
      },
      { additionalProperties: false, description: 'Retries and the per-mini-batch timeout.' },
    ),
  ),
  logging_level: Type.Optional(oneOf(BATCH_LOGGING_LEVELS, { description: "The driver's verbosity, and the Python logging level of the scoring code (default info)." })),
  environment_variables: Type.Optional(stringMap('Variables of the scoring processes.')),
};

export const BatchDeploymentSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    name: Type.String({ pattern: DEPLOYMENT_NAME_PATTERN, patternErrorMessage: 'must be 1-32 letters, digits and "-", starting with a letter', description: 'Deployment name, unique in its endpoint.' }),
    endpoint_name: Type.String({ pattern: ENDPOINT_NAME_PATTERN, patternErrorMessage: 'must name a batch endpoint (3-32 letters, digits and "-")', description: 'The batch endpoint this deployment belongs to.' }),
    description: Type.Optional(description),
    tags: Type.Optional(tags),
    properties: Type.Optional(stringMap('Key/value properties.')),
    type: Type.Optional(Type.Literal('model', { default: 'model', description: 'model: score a registered model (pipeline deployments are not supported yet).', errorMessage: "only model deployments are supported; use type: model" })),
    model: Type.String({ minLength: 1, description: 'Model reference: azureml:<name>:<version>, <name>@latest, or a registry URI.' }),
    code_configuration: Type.Optional(
      Type.Object(
        {
          code: Type.String({ minLength: 1, description: 'Local folder with the scoring script, uploaded as a snapshot.' }),
          scoring_script: Type.String({ pattern: SCORING_SCRIPT_PATTERN, patternErrorMessage: 'must be a .py file inside code, e.g. batch_driver.py', description: 'Script (relative to code) with init() and run(mini_batch).' }),
        },
        { additionalProperties: false, description: 'A scoring script; omit it for a no-code MLflow model deployment.' },
      ),
    ),
    environment: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), InlineEnvironmentSchema], {
        description: "Environment reference or inline environment; omitted for an MLflow model: built from the model's requirements.",
        errorMessage: 'must be an environment reference (e.g. azureml:my-env:1) or an inline environment',
      }),
    ),
    compute: Type.Optional(Type.String({ minLength: 1, description: "Compute target the jobs run on: 'local' (default) or azureml:<name>." })),
    resources: Type.Optional(
      Type.Object(
        {
          instance_count: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, default: 1, description: 'Instances (slots of the compute target); each runs max_concurrency_per_instance workers.' })),
          instance_type: Type.Optional(Type.String({ description: 'Recorded (the VM size on Azure).' })),
        },
        { additionalProperties: false, description: 'Resources of each job.' },
      ),
    ),
    settings: Type.Optional(Type.Object(batchSettingFields, { additionalProperties: false, description: 'Settings of a type: model deployment (the newer form).' })),
    ...batchSettingFields,
  },
  { ...topLevel, title: 'Lapis batch deployment', description: 'A batch deployment (Azure ML batch deployment YAML, flat or with type: model and settings:).' },
);

// ------------------------------------------------------------------ MLTable (the file at the top of an mltable data asset)

export const MLTABLE_ENCODINGS = ['utf8', 'iso88591', 'latin1', 'ascii', 'utf16', 'utf32', 'utf8bom', 'windows1252'] as const;
export const MLTABLE_HEADERS = ['all_files_same_headers', 'from_first_file', 'no_header', 'all_files_different_headers'] as const;
export const MLTABLE_PATH_KINDS = ['file', 'folder', 'pattern'] as const;

const includePathColumn = Type.Optional(Type.Boolean({ description: 'Add a Path column: the file each row was read from (default false).' }));
const tableEncoding = Type.Optional(oneOf(MLTABLE_ENCODINGS, { description: 'Encoding of the files (default utf8).' }));
/** `- read_parquet:` with nothing after it is the same as `- read_parquet: {}`. */
const readOptions = (fields: Parameters<typeof Type.Object>[0], description: string) =>
  Type.Optional(Type.Union([Type.Null(), Type.Object(fields, { additionalProperties: false })], { description, errorMessage: 'must be a mapping of options (or nothing)' }));
const columnNames = (description: string) =>
  Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], { description, errorMessage: 'must be a column name or a list of column names' }));

const MLTablePathSchema = Type.Object(
  {
    file: Type.Optional(Type.String({ minLength: 1, description: "A file, relative to the MLTable file's folder." })),
    folder: Type.Optional(Type.String({ minLength: 1, description: "Every file under a folder, relative to the MLTable file's folder." })),
    pattern: Type.Optional(Type.String({ minLength: 1, description: 'A glob (*, ?, [a-z], **) matching files, relative to the MLTable file\'s folder.' })),
  },
  { additionalProperties: false, description: 'One of file, folder or pattern.' },
);

const MLTableTransformationSchema = Type.Object(
  {
    read_delimited: readOptions(
      {
        delimiter: Type.Optional(Type.String({ minLength: 1, description: 'The column separator (default ",").' })),
        header: Type.Optional(oneOf(MLTABLE_HEADERS, { description: 'Where column names come from (default all_files_same_headers).' })),
        encoding: tableEncoding,
        empty_as_string: Type.Optional(Type.Boolean({ description: 'Read empty fields of text columns as empty strings instead of nulls (default false).' })),
        include_path_column: includePathColumn,
        infer_column_types: Type.Optional(Type.Boolean({ description: 'Infer column types; false reads every column as text (default true).' })),
        support_multi_line: Type.Optional(Type.Boolean({ description: 'Quoted fields may span lines (default false).' })),
      },
      'Read the files as delimited text (CSV, TSV...).',
    ),
    read_parquet: readOptions({ include_path_column: includePathColumn }, 'Read the files as Parquet.'),
    read_json_lines: readOptions(
      {
        include_path_column: includePathColumn,
        invalid_lines: Type.Optional(oneOf(['error', 'drop'] as const, { description: 'A line that is not JSON fails the read (error, the default) or is left out (drop).' })),
        encoding: tableEncoding,
      },
      'Read the files as JSON lines, one object per row.',
    ),
    read_delta_lake: Type.Optional(Type.Unknown({ description: 'Read a Delta Lake folder.' })),
    take: Type.Optional(Type.Integer({ minimum: 0, description: 'Keep the first N rows.' })),
    skip: Type.Optional(Type.Integer({ minimum: 0, description: 'Leave out the first N rows.' })),
    drop_columns: columnNames('Columns to leave out.'),
    keep_columns: columnNames('The only columns to keep.'),
    take_random_sample: Type.Optional(Type.Unknown({ description: 'Keep each row with a probability (probability, seed).' })),
    filter: Type.Optional(Type.Unknown({ description: 'Keep the rows an expression holds for.' })),
    convert_column_types: Type.Optional(Type.Unknown({ description: 'Convert columns to types.' })),
    extract_columns_from_partition_format: Type.Optional(Type.Unknown({ description: "Columns from the files' folder names." })),
  },
  { additionalProperties: false, description: 'One transformation: a mapping with a single key.' },
);

export const MLTableSchema = Type.Object(
  {
    $schema: Type.Optional(schemaUrl),
    type: Type.Optional(Type.Literal('mltable', { description: 'mltable.', errorMessage: 'must be mltable' })),
    paths: Type.Array(MLTablePathSchema, { minItems: 1, description: 'The files of the table: file, folder or pattern entries.' }),
    transformations: Type.Optional(Type.Array(MLTableTransformationSchema, { description: 'How the files are read (read_*), then reshaped, in order.' })),
  },
  { ...topLevel, title: 'MLTable', description: 'The MLTable file of an mltable data asset (Azure ML MLTable YAML).' },
);

export const SPEC_SCHEMAS: Record<SpecKind, TObject> = {
  model: ModelSchema,
  data: DataSchema,
  environment: EnvironmentSchema,
  component: ComponentSchema,
  job: JobSchema,
  compute: ComputeSchema,
  'online-endpoint': OnlineEndpointSchema,
  'online-deployment': OnlineDeploymentSchema,
  'batch-endpoint': BatchEndpointSchema,
  'batch-deployment': BatchDeploymentSchema,
  mltable: MLTableSchema,
};

// ------------------------------------------------------------------ normalised static types
// loadSpec returns values with defaults applied, versions and tag values as strings; the raw
// Static<> types (which accept numbers there) are what a hand-written YAML may contain.

type Normalised<T, Defaulted extends keyof T> = Omit<T, 'version' | 'tags' | Defaulted> & {
  version?: string;
  tags?: Record<string, string>;
} & { [K in Defaulted]-?: Exclude<T[K], undefined> };

type StringMaps<T, K extends keyof T> = Omit<T, K> & { [P in K]?: Record<string, string> };

export type ModelSpec = StringMaps<Normalised<Static<typeof ModelSchema>, 'type'>, 'properties'>;
export type DataSpec = Normalised<Static<typeof DataSchema>, 'type'>;

type RawEnvironment = Static<typeof EnvironmentSchema>;
type RawBuild = NonNullable<RawEnvironment['build']>;
export type EnvironmentSpec = Omit<Normalised<RawEnvironment, 'os_type'>, 'build' | 'python'> & {
  build?: RawBuild & { dockerfile_path: string };
  python?: string;
};
export type InlineEnvironmentSpec = Omit<EnvironmentSpec, 'name' | 'version' | '$schema'>;

type RawInput = Static<typeof ComponentInputSchema>;
export type ComponentInputSpec = RawInput & { optional: boolean };
export type ComponentOutputSpec = Static<typeof ComponentOutputSchema>;
type RawComponent = Static<typeof ComponentSchema>;
export type ComponentSpec = Omit<Normalised<RawComponent, 'type' | 'is_deterministic'>, 'inputs' | 'environment'> & {
  environment?: string | InlineEnvironmentSpec;
  inputs?: Record<string, ComponentInputSpec>;
  outputs?: Record<string, ComponentOutputSpec>;
};

export type JobDataInputSpec = Static<typeof JobDataInputSchema> & { type: (typeof DATA_INPUT_TYPES)[number]; mode: (typeof INPUT_MODES)[number] };
export type JobInputSpec = string | number | boolean | JobDataInputSpec;
export interface JobOutputSpec {
  type: (typeof OUTPUT_TYPES)[number];
  mode: (typeof OUTPUT_MODES)[number];
  path?: string;
  name?: string;
  version?: string;
  description?: string;
}
type RawJob = Static<typeof JobSchema>;
export type JobSpec = Omit<Normalised<RawJob, 'type'>, 'inputs' | 'outputs' | 'environment' | 'environment_variables' | 'properties'> & {
  environment?: string | InlineEnvironmentSpec;
  environment_variables?: Record<string, string>;
  properties?: Record<string, string>;
  inputs?: Record<string, JobInputSpec>;
  outputs?: Record<string, JobOutputSpec>;
};
export type ComputeSpec = Normalised<Static<typeof ComputeSchema>, 'type' | 'max_instances'>;
export type OnlineEndpointSpec = Normalised<Static<typeof OnlineEndpointSchema>, 'auth_mode'>;
type RawDeployment = Static<typeof OnlineDeploymentSchema>;
export type OnlineDeploymentSpec = Omit<Normalised<RawDeployment, 'instance_count'>, 'environment' | 'environment_variables'> & {
  environment?: string | InlineEnvironmentSpec;
  environment_variables?: Record<string, string>;
};
export type BatchEndpointSpec = Normalised<Static<typeof BatchEndpointSchema>, 'auth_mode'>;
type RawBatchDeployment = Static<typeof BatchDeploymentSchema>;
export type BatchDeploymentSpec = Omit<Normalised<RawBatchDeployment, 'type'>, 'environment' | 'environment_variables' | 'settings'> & {
  environment?: string | InlineEnvironmentSpec;
  environment_variables?: Record<string, string>;
  settings?: Omit<NonNullable<RawBatchDeployment['settings']>, 'environment_variables'> & { environment_variables?: Record<string, string> };
};

export type MLTableSpec = Static<typeof MLTableSchema>;
export type MLTableTransformationSpec = Static<typeof MLTableTransformationSchema>;

export interface SpecTypes {
  model: ModelSpec;
  data: DataSpec;
  environment: EnvironmentSpec;
  component: ComponentSpec;
  job: JobSpec;
  compute: ComputeSpec;
  'online-endpoint': OnlineEndpointSpec;
  'online-deployment': OnlineDeploymentSpec;
  'batch-endpoint': BatchEndpointSpec;
  'batch-deployment': BatchDeploymentSpec;
  mltable: MLTableSpec;
}
export type SpecOf<K extends SpecKind> = SpecTypes[K];

/** JSON Schema for editors (`lapis spec schema model > model.schema.json`); the JSON round trip drops TypeBox's symbols. */
export function jsonSchemaFor(kind: SpecKind): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...(JSON.parse(JSON.stringify(SPEC_SCHEMAS[kind])) as Record<string, unknown>),
  };
}
