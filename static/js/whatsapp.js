// The WhatsApp composer (templates/conversations/_whatsapp_composer.html): the window's
// countdown ticks every 30 seconds; when it reaches zero, the free-text form goes away
// and the template picker opens (the server refuses free text then as well).
(function () {
  "use strict";

  function tick() {
    for (const el of document.querySelectorAll("#wa-window[data-closes]")) {
      const left = Math.floor((new Date(el.dataset.closes) - new Date()) / 60000);
      if (left > 0) {
        // the translated text keeps the "3 h 12 min" form; only the numbers change
        el.textContent = el.textContent.replace(
          /\d+ h \d+ min/, `${Math.floor(left / 60)} h ${left % 60} min`
        );
        continue;
      }
      el.textContent = el.dataset.closedText;
      el.classList.replace("open", "closed");
      el.removeAttribute("data-closes");
      const form = document.getElementById("wa-text-form");
      if (form) form.remove();
      const picker = document.getElementById("wa-templates");
      if (picker) picker.open = true;
    }
  }

  setInterval(tick, 30000);
})();
