import { useSyncExternalStore } from 'react';

const subscribe = (cb: () => void) => {
  const mo = new MutationObserver(cb);
  mo.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
  return () => mo.disconnect();
};

/** The theme in force ('light', 'dark', or 'auto' before a choice), re-rendering when it changes. */
export const useTheme = (): string => useSyncExternalStore(subscribe, () => document.documentElement.dataset.theme ?? 'auto');
