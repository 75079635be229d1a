"use client";

import { useSyncExternalStore } from "react";

const noSubscription = () => () => {};

/**
 * False in the server's HTML and until React has hydrated it, then true. A form whose submit runs in the browser
 * (sign-in, keys generated with WebCrypto) keeps its button disabled until then: a click before hydration would
 * otherwise submit natively (the password in a GET query) or do nothing at all.
 */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    noSubscription,
    () => true,
    () => false,
  );
}
