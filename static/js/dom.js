/* One element, built from a tag, its attributes and its text (never HTML: text is text). */
export function el(tag, attrs, text) {
  const node = document.createElement(tag);
  Object.keys(attrs || {}).forEach((name) => node.setAttribute(name, attrs[name]));
  if (text != null) node.textContent = text;
  return node;
}
