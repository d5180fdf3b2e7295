/**
 * The command binder of a job. Literal inputs are substituted here; data inputs and outputs stay as
 * `${{inputs.x}}` / `${{outputs.y}}` for the task runner, which alone knows their local paths.
 * A `$[[ ... ]]` fragment is kept (without its brackets) when every input it names is given, and
 * dropped otherwise — Azure ML's optional-input syntax.
 */
const EXPRESSION = /\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const FRAGMENT = /\$\[\[([\s\S]*?)\]\]/g;

/** How a literal input reads in a command: booleans as Azure ML's Python side prints them. */
export function literalText(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}

export function bindCommand(command: string, literals: Readonly<Record<string, string>>, paths: ReadonlySet<string>): string {
  const given = (section: string, name: string) => (section === 'inputs' ? name in literals || paths.has(`inputs.${name}`) : paths.has(`outputs.${name}`));
  const optional = command.replace(FRAGMENT, (_all, inner: string) => {
    for (const m of inner.matchAll(EXPRESSION)) if (!given(m[1] as string, m[2] as string)) return '';
    return inner;
  });
  return optional.replace(EXPRESSION, (all, section: string, name: string) => (section === 'inputs' && name in literals ? (literals[name] as string) : all));
}
