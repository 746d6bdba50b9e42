// Glassbox video page: the timeline under the player. A range (a button) seeks the player to
// its start; hovering or focusing one shows its evidence (the keyframe with the heat map of
// its tag, or with the boxes of what was read or flagged). The page honours #t=12.5: it seeks
// there on load and highlights the ranges that contain that time.
// Text from the data (labels, captions) is only ever set with textContent.
(function () {
  "use strict";

  // "#t=12.5", "#t=12.5,20", "#t=1:02.5" (a media fragment's start) -> seconds, else null
  function timeFromHash(hash) {
    const match = /(?:^#|&)t=(?:npt:)?([0-9:.]+)/.exec(hash || "");
    if (!match) return null;
    const parts = match[1].split(":");
    if (parts.length > 3 || parts.some(function (p) { return p === "" || isNaN(Number(p)); })) {
      return null;
    }
    const seconds = parts.reduce(function (total, p) { return total * 60 + Number(p); }, 0);
    return isFinite(seconds) && seconds >= 0 ? seconds : null;
  }

  function percent(v) {
    return Math.min(Math.max(Number(v) * 100, 0), 100) + "%";
  }

  function setupPlayer() {
    const root = document.getElementById("video");
    if (!root) return;
    const player = document.getElementById("player");
    const ranges = Array.from(root.querySelectorAll(".timeline .range"));
    const playheads = Array.from(root.querySelectorAll(".timeline .playhead"));
    const duration = parseFloat(root.dataset.duration) || 0;
    const stage = document.getElementById("preview-stage");
    const image = document.getElementById("preview-image");
    const boxes = document.getElementById("preview-boxes");
    const caption = document.getElementById("preview-caption");
    let pendingSeek = null;

    function highlight(t) {
      ranges.forEach(function (r) {
        const start = parseFloat(r.dataset.start);
        const end = parseFloat(r.dataset.end);
        // [start, end), the last range of the video up to its end inclusive
        const on = t !== null && start <= t + 1e-6 && (t < end || (end >= duration - 1e-6 && t <= end));
        r.classList.toggle("at-time", on);
        if (on) r.setAttribute("aria-current", "time");
        else r.removeAttribute("aria-current");
      });
      playheads.forEach(function (p) {
        p.hidden = t === null || !duration;
        if (t !== null && duration) p.style.left = percent(t / duration);
      });
    }

    function seek(t) {
      if (!player) return;
      const target = duration ? Math.min(Math.max(t, 0), duration) : Math.max(t, 0);
      if (player.readyState >= 1) {
        player.currentTime = target;
      } else {
        pendingSeek = target;
      }
    }

    function show(range) {
      caption.textContent = range.getAttribute("aria-label") || "";
      boxes.replaceChildren();
      const url = range.dataset.preview;
      if (!url) {
        stage.hidden = true;
        return;
      }
      if (image.getAttribute("src") !== url) image.src = url;
      image.alt = range.getAttribute("aria-label") || "";
      let found = [];
      try {
        found = range.dataset.boxes ? JSON.parse(range.dataset.boxes) : [];
      } catch (e) {
        found = [];
      }
      found.forEach(function (b) {
        if (!Array.isArray(b) || b.length !== 4) return;
        const box = document.createElement("div");
        box.className = "region overlay";
        box.style.left = percent(b[0]);
        box.style.top = percent(b[1]);
        box.style.width = percent(Math.max(b[2] - b[0], 0));
        box.style.height = percent(Math.max(b[3] - b[1], 0));
        boxes.appendChild(box);
      });
      stage.hidden = false;
    }

    ranges.forEach(function (range) {
      range.addEventListener("mouseenter", function () { show(range); });
      range.addEventListener("focus", function () { show(range); });
      range.addEventListener("click", function () {
        const t = parseFloat(range.dataset.start);
        seek(t);
        highlight(t);
        show(range);
        if (window.history && window.history.replaceState) {
          window.history.replaceState(null, "", "#t=" + range.dataset.start);
        }
      });
    });

    // a cut's tick (its title says where and how sure): a click seeks there too; keyboard
    // users reach the same time through the shot's button, which names the cut
    root.querySelectorAll(".timeline .cut-tick").forEach(function (tick) {
      tick.addEventListener("click", function () {
        const t = parseFloat(tick.dataset.start);
        seek(t);
        highlight(t);
      });
    });

    if (player) {
      player.addEventListener("loadedmetadata", function () {
        if (pendingSeek !== null) {
          player.currentTime = pendingSeek;
          pendingSeek = null;
        }
      });
      player.addEventListener("timeupdate", function () {
        if (!player.seeking && !player.paused) highlight(player.currentTime);
      });
      player.addEventListener("seeked", function () { highlight(player.currentTime); });
    }

    function fromHash() {
      const t = timeFromHash(window.location.hash);
      highlight(t);
      if (t === null) return;
      seek(t);
      const first = ranges.find(function (r) { return r.classList.contains("at-time"); });
      if (first) show(first);
    }
    window.addEventListener("hashchange", fromHash);
    fromHash();
  }

  document.addEventListener("DOMContentLoaded", setupPlayer);
})();
