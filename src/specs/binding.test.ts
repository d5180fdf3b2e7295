import { describe, expect, it } from 'vitest';
import { bindCommand, literalText } from './binding.js';

describe('bindCommand', () => {
  it('substitutes literals and leaves data inputs and outputs for the runner', () => {
    const out = bindCommand('python train.py --lr ${{inputs.lr}} --data ${{ inputs.data }} --out ${{outputs.model}}', { lr: '0.1' }, new Set(['inputs.data', 'outputs.model']));
    expect(out).toBe('python train.py --lr 0.1 --data ${{ inputs.data }} --out ${{outputs.model}}');
  });

  it('keeps an optional fragment whose inputs are given, without its brackets', () => {
    expect(bindCommand('run $[[--seed ${{inputs.seed}}]] done', { seed: '7' }, new Set())).toBe('run --seed 7 done');
  });

  it('drops an optional fragment naming an input that is not given', () => {
    expect(bindCommand('run $[[--seed ${{inputs.seed}}]] $[[--data ${{inputs.data}}]]', {}, new Set(['inputs.data']))).toBe('run  --data ${{inputs.data}}');
  });

  it('renders booleans as Azure ML does', () => {
    expect(literalText(true)).toBe('True');
    expect(literalText(false)).toBe('False');
    expect(literalText(0.5)).toBe('0.5');
  });
});
