// The SMS composer (templates/conversations/_sms_composer.html): characters, encoding and
// segments counted while typing, as templates_app/sms.py counts them (GSM 03.38 septets,
// else UCS-2 code units; 160/153 or 70/67 per segment). Above the brand's limit the send
// button is disabled (the server refuses such a text as well).
(function () {
  "use strict";

  const GSM_BASIC = new Set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
      "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
  );
  const GSM_EXTENSION = new Set("^{}\\[~]|€\f");

  function smsInfo(text) {
    const chars = Array.from(text);
    let units, single, multi, encoding;
    if (chars.every((c) => GSM_BASIC.has(c) || GSM_EXTENSION.has(c))) {
      units = chars.reduce((n, c) => n + (GSM_EXTENSION.has(c) ? 2 : 1), 0);
      [single, multi, encoding] = [160, 153, "GSM-7"];
    } else {
      units = text.length; // UTF-16 code units, as UCS-2 counts them
      [single, multi, encoding] = [70, 67, "UCS-2"];
    }
    const segments = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / multi);
    const per = segments > 1 ? multi : single;
    const left = segments ? segments * per - units : per;
    return { chars: chars.length, units, segments, encoding, left };
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (match, key) => (key in values ? values[key] : match));
  }

  function update(area) {
    const out = document.getElementById(area.dataset.smsCount);
    const send = document.getElementById(area.dataset.smsSend);
    if (!out) return;
    const max = parseInt(area.dataset.maxSegments, 10) || 1;
    const info = smsInfo(area.value.trim());
    const values = { ...info, max };
    const over = info.segments > max;
    let text = fill(out.dataset.format, values);
    if (over) text = fill(out.dataset.over, values);
    else if (info.encoding === "UCS-2") text += " " + out.dataset.ucs2;
    out.textContent = text;
    out.classList.toggle("over", over);
    out.dataset.encoding = info.encoding;
    out.dataset.segments = String(info.segments);
    if (send) send.disabled = over;
    area.setCustomValidity(over ? fill(out.dataset.over, values) : "");
  }

  // delegated: the composer arrives with every detail pane htmx swaps in
  document.addEventListener("input", (event) => {
    if (event.target.matches && event.target.matches("textarea[data-sms-count]")) {
      update(event.target);
    }
  });
  document.addEventListener("htmx:afterSettle", () => {
    for (const area of document.querySelectorAll("textarea[data-sms-count]")) update(area);
  });
  for (const area of document.querySelectorAll("textarea[data-sms-count]")) update(area);
})();
