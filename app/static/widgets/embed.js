/* Sportello widgets for the company's website.

   Include this script from the Sportello server and mark where each widget goes:

     <div data-sportello-widget="login" data-lang="it"></div>
     <div data-sportello-widget="information" data-lang="en"></div>
     <script src="https://sportello.example.it/static/widgets/embed.js" defer></script>

   Each element gets a frame of the widget page, sized to its content by messages from the
   frame: only messages from the Sportello server and from that very frame are read. The
   website's origin must be listed in Sportello's setting "Websites allowed to embed the
   portal's widgets", or the browser refuses to show the frame. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var server = new URL(script.src, document.baseURI).origin;
  var titles = {
    login: {it: "Accedi allo sportello online", en: "Sign in to the online counter"},
    information: {it: "Richiesta di informazioni", en: "Information request"}
  };
  var frames = [];

  function place(holder) {
    var widget = holder.getAttribute("data-sportello-widget");
    if (!titles[widget] || holder.querySelector("iframe")) return;
    var lang = holder.getAttribute("data-lang") === "en" ? "en" : "it";
    var frame = document.createElement("iframe");
    frame.src = server + "/widgets/" + widget + "?lang=" + lang + "&origin=" + encodeURIComponent(location.origin);
    frame.title = holder.getAttribute("data-title") || titles[widget][lang];
    frame.setAttribute("data-sportello-frame", widget);
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.style.height = (holder.getAttribute("data-height") || "480") + "px";
    frame.addEventListener("load", function () {
      frame.contentWindow.postMessage({type: "sportello:hello"}, server);
    });
    holder.appendChild(frame);
    frames.push(frame);
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== server || !event.data || event.data.type !== "sportello:height") return;
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source) {
        var height = Number(event.data.height);
        if (height > 0 && height < 10000) frames[i].style.height = height + "px";
        frames[i].setAttribute("data-sized", "true");
      }
    }
  });

  function start() {
    var holders = document.querySelectorAll("[data-sportello-widget]");
    for (var i = 0; i < holders.length; i++) place(holders[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
