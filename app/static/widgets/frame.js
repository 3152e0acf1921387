/* Inside a widget's frame: tell the website's page (embed.js) how tall the widget is, so the
   frame fits it without a scroll bar. Messages go only to the website the server listed for
   this page (data-parent-origin), and only that website's messages are answered. */
(function () {
  "use strict";
  var root = document.documentElement;
  var parentOrigin = root.getAttribute("data-parent-origin");
  if (!parentOrigin || window.parent === window) return;
  var widget = root.getAttribute("data-widget");

  function tell() {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    window.parent.postMessage({type: "sportello:height", widget: widget, height: height}, parentOrigin);
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== parentOrigin || event.source !== window.parent) return;
    if (event.data && event.data.type === "sportello:hello") tell();
  });
  if (window.ResizeObserver) new ResizeObserver(tell).observe(document.body);
  window.addEventListener("load", tell);
  tell();
})();
