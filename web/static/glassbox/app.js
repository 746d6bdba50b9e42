// Glassbox UI: upload progress, live status badges and a video's analysis progress, overlay
// toggles, caption evidence.
// Untrusted text (titles, reasons, problem details) is only ever set with textContent.
(function () {
  "use strict";

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function problemText(xhr) {
    try {
      const problem = JSON.parse(xhr.responseText);
      const title = problem.title || "Upload failed";
      return problem.detail ? title + ": " + problem.detail : title;
    } catch (e) {
      return "Upload failed (HTTP " + xhr.status + ").";
    }
  }

  function setupUpload() {
    const form = document.getElementById("upload-form");
    if (!form) return;
    const progress = document.getElementById("upload-progress");
    const error = document.getElementById("upload-error");
    const submit = document.getElementById("upload-submit");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.hidden = true;
      error.textContent = "";
      const data = new FormData(form);
      data.delete("csrfmiddlewaretoken");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.apiUrl);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      progress.hidden = false;
      progress.value = 0;
      submit.disabled = true;
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
      };
      xhr.onload = function () {
        submit.disabled = false;
        if (xhr.status === 201) {
          progress.value = 100;
          const item = JSON.parse(xhr.responseText);
          window.location.assign(item.page_url);
          return;
        }
        progress.hidden = true;
        error.textContent = problemText(xhr);
        error.hidden = false;
      };
      xhr.onerror = function () {
        submit.disabled = false;
        progress.hidden = true;
        error.textContent = "The upload could not reach the server.";
        error.hidden = false;
      };
      xhr.send(data);
    });
  }

  function setBadge(id, status) {
    document.querySelectorAll('[data-status-for="' + id + '"]').forEach(function (badge) {
      badge.textContent = status;
      badge.className = "badge status-" + status;
    });
  }

  // A video's analysis progress ("keyframes 12 / 40"), from the item API's progress field.
  function setProgress(id, progress) {
    document.querySelectorAll('[data-progress-for="' + id + '"]').forEach(function (line) {
      if (!progress) return;
      const text = line.querySelector(".progress-text");
      if (text) text.textContent = progress.stage + " " + progress.done + " / " + progress.total;
      const bar = line.querySelector("progress");
      if (bar) {
        bar.max = Math.max(1, Number(progress.total) || 0);
        bar.value = Math.max(0, Number(progress.done) || 0);
      }
      line.hidden = false;
    });
  }

  function setupLibraryPolling() {
    const grid = document.getElementById("library");
    if (!grid) return;
    function pendingIds() {
      return Array.from(grid.querySelectorAll('.tile[data-pending="1"]')).map(function (t) {
        return t.dataset.itemId;
      });
    }
    function poll() {
      const ids = pendingIds();
      if (!ids.length) return;
      fetch(grid.dataset.statusUrl + "?ids=" + ids.join(","), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (rows) {
          rows.forEach(function (row) {
            setBadge(row.id, row.status);
            if (row.status === "ready" || row.status === "failed") {
              const tile = grid.querySelector('.tile[data-item-id="' + row.id + '"]');
              if (tile) tile.dataset.pending = "0";
            }
          });
        })
        .catch(function () {})
        .finally(function () { setTimeout(poll, 1500); });
    }
    setTimeout(poll, 1500);
  }

  function setupItemPolling() {
    const item = document.getElementById("item");
    if (!item || item.dataset.pending !== "1") return;
    function poll() {
      fetch(item.dataset.apiUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return setTimeout(poll, 1500);
          setBadge(data.id, data.status);
          setProgress(data.id, data.progress);
          if (data.status === "ready" || data.status === "failed") {
            window.location.reload(); // tags, overlays and the retry button come with the page
          } else {
            setTimeout(poll, 1500);
          }
        })
        .catch(function () { setTimeout(poll, 1500); });
    }
    setTimeout(poll, 1500);
  }

  function setupOverlays() {
    document.querySelectorAll(".overlay-toggle").forEach(function (toggle) {
      toggle.addEventListener("change", function () {
        [toggle.dataset.heat, toggle.dataset.box].forEach(function (id) {
          const el = document.getElementById(id);
          if (el) el.hidden = !toggle.checked;
        });
      });
    });
  }

  // Caption phrases: hovering or focusing one shows its evidence boxes on the image; a click
  // (or Enter/Space: they are buttons) pins them until clicked again.
  function setupCaption() {
    const phrases = Array.from(document.querySelectorAll(".caption .phrase, .evidence-list .phrase"));
    if (!phrases.length) return;
    const regions = Array.from(document.querySelectorAll(".stage .phrase-region"));
    let pinned = null;
    function show(index) {
      regions.forEach(function (r) { r.hidden = index === null || r.dataset.phrase !== index; });
      phrases.forEach(function (p) { p.classList.toggle("active", p.dataset.phrase === index); });
    }
    phrases.forEach(function (phrase) {
      const index = phrase.dataset.phrase;
      phrase.addEventListener("mouseenter", function () { show(index); });
      phrase.addEventListener("focus", function () { show(index); });
      phrase.addEventListener("mouseleave", function () { show(pinned); });
      phrase.addEventListener("blur", function () { show(pinned); });
      phrase.addEventListener("click", function () {
        pinned = pinned === index ? null : index;
        phrases.forEach(function (p) {
          p.setAttribute("aria-pressed", p.dataset.phrase === pinned ? "true" : "false");
        });
        show(pinned);
      });
    });
  }

  function setupConfirm() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupUpload();
    setupLibraryPolling();
    setupItemPolling();
    setupOverlays();
    setupCaption();
    setupConfirm();
  });
})();
