// Glassbox moderation: the review queue's keyboard (j/k move between entries, one key per
// decision, a to claim, v for the evidence overlay, x to select for a bulk action), the
// bulk form's "select all", and the appeal form's character count.
// The evidence overlays themselves are app.js's .overlay-toggle checkboxes.
// Text from the data (rules, reasons, appeal messages) is never touched here.
(function () {
  "use strict";

  function typingIn(el) {
    if (!el || !el.tagName) return false;
    const tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || el.isContentEditable) return true;
    return tag === "input" && !["checkbox", "radio", "button", "submit"].includes(el.type);
  }

  function setupQueue() {
    const queue = document.getElementById("mod-queue");
    if (!queue) return;
    const entries = Array.from(queue.querySelectorAll(".mod-entry"));
    if (!entries.length) return;
    let current = -1;

    function select(index, focus) {
      if (index < 0 || index >= entries.length) return;
      if (current >= 0) entries[current].classList.remove("current");
      current = index;
      const entry = entries[current];
      entry.classList.add("current");
      if (focus !== false) {
        entry.focus({ preventScroll: true });
        entry.scrollIntoView({ block: "nearest" });
      }
    }

    entries.forEach(function (entry, index) {
      entry.addEventListener("focusin", function () { select(index, false); });
      entry.addEventListener("click", function () { select(index, false); });
    });

    function choose(entry, key) {
      const button = entry.querySelector('form.decide button[data-key="' + key + '"]');
      if (!button || button.disabled) return false;
      const form = button.form;
      form.querySelectorAll("button[name=decision]").forEach(function (b) {
        b.classList.toggle("chosen", b === button);
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      const reason = form.querySelector("input[name=reason]");
      const hint = form.querySelector(".hint");
      if (hint) hint.textContent = "Enter sends “" + button.dataset.label + "” with this reason; Esc leaves the field.";
      if (reason && reason.value.trim()) {
        form.requestSubmit(button);
      } else if (reason) {
        reason.focus();
      }
      return true;
    }

    // Enter in a reason field sends the decision chosen with its key; without one chosen it
    // sends nothing (the form's first, disabled submit button blocks implicit submission).
    queue.querySelectorAll("form.decide").forEach(function (form) {
      const reason = form.querySelector("input[name=reason]");
      if (!reason) return;
      reason.addEventListener("keydown", function (event) {
        if (event.key !== "Enter") return;
        event.preventDefault();
        const chosen = form.querySelector("button.chosen");
        const hint = form.querySelector(".hint");
        if (chosen) {
          form.requestSubmit(chosen);
        } else if (hint) {
          hint.textContent = "Choose a decision first: press its key or click its button.";
        }
      });
    });

    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      if (typingIn(target)) {
        if (event.key === "Escape") {
          target.blur();
          if (current >= 0) entries[current].focus({ preventScroll: true });
        }
        return;
      }
      const key = event.key;
      const entry = current >= 0 ? entries[current] : null;
      if (key === "j") {
        select(current + 1);
      } else if (key === "k") {
        select(Math.max(current - 1, 0));
      } else if (!entry) {
        return;
      } else if (key === "a") {
        const claim = entry.querySelector("form.claim button[type=submit]");
        if (!claim) return;
        claim.click();
      } else if (key === "v") {
        const toggle = entry.querySelector(".overlay-toggle");
        if (!toggle) return;
        toggle.click();
      } else if (key === "x") {
        const box = entry.querySelector(".bulk-select");
        if (!box) return;
        box.click();
      } else if (!choose(entry, key)) {
        return;
      }
      event.preventDefault();
    });

    // the entry named in the address (#flag-12, where a decision sends you back to), else
    // the first
    const named = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
    const start = named ? entries.indexOf(named) : -1;
    select(start >= 0 ? start : 0, start >= 0);
  }

  function setupBulk() {
    const all = document.getElementById("bulk-all");
    if (!all) return;
    const boxes = Array.from(document.querySelectorAll(".bulk-select"));
    const count = document.getElementById("bulk-count");
    function update() {
      const n = boxes.filter(function (b) { return b.checked; }).length;
      if (count) count.textContent = n + " selected";
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      update();
    });
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
  }

  function setupCounters() {
    document.querySelectorAll("textarea[data-counter]").forEach(function (area) {
      const out = document.getElementById(area.dataset.counter);
      if (!out) return;
      const max = Number(area.getAttribute("maxlength")) || 0;
      function update() { out.textContent = area.value.length + (max ? " / " + max : ""); }
      area.addEventListener("input", update);
      update();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupQueue();
    setupBulk();
    setupCounters();
  });
})();
