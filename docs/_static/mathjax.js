// MathJax 3 configuration. MathJax itself is served with the site from
// _static/mathjax/ (the npm package `mathjax`, fetched by the Makefile), never from
// a CDN: the docs must render on machines without internet.
window.MathJax = {
  loader: { load: ["[tex]/textmacros"] },
  tex: {
    packages: { "[+]": ["textmacros"] },
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};
