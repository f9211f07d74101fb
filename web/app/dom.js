// What the pages' scripts share for the DOM.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** Replaces a <dl>'s content by term/definition pairs (text only, never HTML). */
export function showDefinitions(list, pairs) {
  list.replaceChildren(
    ...pairs.flatMap(([label, value]) => [
      Object.assign(document.createElement('dt'), { textContent: label }),
      Object.assign(document.createElement('dd'), { textContent: value }),
    ]),
  );
}
