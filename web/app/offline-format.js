// What offline QR codes hold, as the server defines it (/web/offline-format.json,
// generated from the Rust definitions): the purposes, their audiences and
// claims per edition, and the payload's preset dictionary. Pages list the
// purposes from it rather than from a copy of their own.

import { t } from '/app/i18n.js';

let loading = null;

/** The offline format ({version, dictionary, purposes: [{purpose, audience, claims}]}), fetched once per page (the wallet's service worker keeps it for offline use). */
export function offlineFormat() {
  loading ??= fetch('/web/offline-format.json').then((response) => {
    if (!response.ok) throw new Error(`offline format: HTTP ${response.status}`);
    return response.json();
  });
  return loading;
}

/** Fills a <select> with the purposes, labelled in the page's language. */
export async function fillPurposes(select) {
  const { purposes } = await offlineFormat();
  select.replaceChildren(
    ...purposes.map(({ purpose }) => {
      const option = document.createElement('option');
      option.value = purpose;
      option.dataset.i18n = `purpose.${purpose}`;
      option.textContent = t(`purpose.${purpose}`);
      return option;
    }),
  );
}
