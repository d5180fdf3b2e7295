import { useEffect, useRef, type KeyboardEvent as ReactKeyboardEvent } from 'react';

const typing = (t: EventTarget | null): boolean =>
  t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));

/**
 * Page-wide shortcuts: single keys (`t`, `?`, `/`) and two-key sequences (`g e`), ignored while
 * typing in a field (except Escape).
 */
export function useShortcuts(map: Record<string, () => void>): void {
  const ref = useRef(map);
  ref.current = map;
  useEffect(() => {
    let prefix = '';
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key !== 'Escape' && typing(e.target)) return;
      const combo = prefix ? `${prefix} ${e.key}` : e.key;
      const action = ref.current[combo];
      if (action) {
        e.preventDefault();
        prefix = '';
        action();
        return;
      }
      if (Object.keys(ref.current).some((k) => k.startsWith(`${e.key} `))) {
        prefix = e.key;
        clearTimeout(timer);
        timer = setTimeout(() => (prefix = ''), 1000);
      } else prefix = '';
    };
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('keydown', onKey);
      clearTimeout(timer);
    };
  }, []);
}

/**
 * Arrow keys (and Home/End) in a tablist move to the neighbouring tab and select it, as the
 * WAI-ARIA tabs pattern has it; Tab leaves the list.
 */
export function onTabListKeyDown(e: ReactKeyboardEvent<HTMLElement>): void {
  const tabs = [...e.currentTarget.querySelectorAll<HTMLElement>('[role="tab"]')];
  const at = tabs.indexOf(document.activeElement as HTMLElement);
  if (at < 0) return;
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  const tab = tabs[(to + tabs.length) % tabs.length];
  tab?.focus();
  tab?.click();
}
