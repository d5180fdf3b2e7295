import { describe, expect, it } from 'vitest';
import { parseRoleSpec } from './role.js';

describe('parseRoleSpec', () => {
  it('reads a role file', () => {
    const text = 'name: Experimenter\ndescription: Runs only\nactions:\n  - runs/*\n  - experiments/read\nnot_actions: [runs/delete]\n';
    expect(parseRoleSpec(text, 'r.yml')).toEqual({ name: 'Experimenter', description: 'Runs only', actions: ['runs/*', 'experiments/read'], not_actions: ['runs/delete'] });
  });

  it('accepts JSON, a single action as a string, and the camelCase shape of `role list`', () => {
    expect(parseRoleSpec('{"name": "R", "actions": "runs/read"}', 'r.json')).toEqual({ name: 'R', actions: ['runs/read'] });
    expect(parseRoleSpec('name: R\nactions: ["*/read"]\nnotActions: [audit/read]\nbuiltIn: false\n', 'r.yml')).toEqual({ name: 'R', actions: ['*/read'], not_actions: ['audit/read'] });
  });

  it.each([
    ['', /r\.yml: expected a mapping/],
    ['- a\n- b\n', /expected a mapping/],
    ['name: [x\n', /r\.yml: not valid YAML/],
    ['name: R\nname: S\nactions: [a/b]\n', /not valid YAML/],
    ['actions: [runs/read]\n', /'name' must be a non-empty string/],
    ['name: R\n', /'actions' is missing/],
    ['name: R\nactions: []\n', /'actions' is empty/],
    ['name: R\nactions: {runs: read}\n', /'actions' must be a list/],
    ['name: R\nactions: [runs/read, 3]\n', /'actions\[1\]' must be an action pattern string/],
    ['name: R\nactions: [runs/read]\nnot_actions: [null]\n', /'not_actions\[0\]'/],
    ['name: R\ndescription: 5\nactions: [runs/read]\n', /'description' must be a string/],
    ['name: R\nactions: [runs/read]\nscope: all\n', /unknown key 'scope': a role has name, description, actions, not_actions/],
    ['name: R\nactions: [runs/read]\nbuiltIn: true\n', /builtIn: true/],
    ['name: R\nactions: [runs/read]\nnot_actions: []\nnotActions: []\n', /either 'not_actions' or 'notActions'/],
  ])('refuses %j', (text, message) => {
    expect(() => parseRoleSpec(text, 'r.yml')).toThrow(message);
  });
});
