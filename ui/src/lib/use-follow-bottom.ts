import { useEffect, useRef, type RefObject, type UIEvent } from 'react';

/**
 * A live log box that follows its bottom as lines arrive, unless the reader has scrolled up; back
 * at the bottom, it follows again. `content` (and `view`, what is shown of it) change when there is
 * more to show. Spread the result on the scrolling element.
 */
export function useFollowBottom<E extends HTMLElement>(content: unknown, view?: unknown): { ref: RefObject<E | null>; onScroll: (e: UIEvent<E>) => void } {
  const ref = useRef<E>(null);
  const stick = useRef(true);
  useEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [content, view]);
  return {
    ref,
    onScroll: (e) => {
      const el = e.currentTarget;
      stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    },
  };
}
