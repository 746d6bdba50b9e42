// The operators' dashboard: polls /api/v1/ops/dashboard/ and redraws each section.
// Every value from the server (failure reasons, names) is set with textContent, never as HTML.
(function () {
  "use strict";

  const root = document.getElementById("ops-dashboard");
  if (!root) return;
  const SVG = "http://www.w3.org/2000/svg";
  const refreshMs = parseInt(root.dataset.refreshMs, 10) || 3000;
  const watched = new Set();

  function csrfToken() {
    const input = root.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function row(cells, testid) {
    const tr = document.createElement("tr");
    if (testid) tr.dataset.testid = testid;
    cells.forEach(function (cell) {
      const td = el("td", cell.text === undefined ? cell : cell.text, cell.cls);
      if (cell.testid) td.dataset.testid = cell.testid;
      tr.appendChild(td);
    });
    return tr;
  }

  function fill(testid, nodes) {
    const target = root.querySelector('[data-testid="' + testid + '"]');
    target.replaceChildren.apply(target, nodes);
  }

  function setText(testid, text) {
    root.querySelector('[data-testid="' + testid + '"]').textContent = String(text);
  }

  function ms(value) {
    if (value === null || value === undefined) return "–";
    return value >= 1000 ? (value / 1000).toFixed(2) + " s" : value.toFixed(1) + " ms";
  }

  function seconds(value) {
    if (value === null || value === undefined) return "–";
    if (value < 120) return Math.round(value) + " s";
    if (value < 7200) return Math.round(value / 60) + " min";
    return (value / 3600).toFixed(1) + " h";
  }

  // A section whose dependency is down shows its error and keeps nothing stale.
  function section(name, data, draw) {
    const box = root.querySelector('[data-section="' + name + '"]');
    const error = box.querySelector("[data-error]");
    if (!data || data.error) {
      error.textContent = (data && data.error) || "no data";
      error.hidden = false;
      box.classList.add("down");
      return;
    }
    error.hidden = true;
    box.classList.remove("down");
    draw(data);
  }

  function drawQueues(data) {
    fill(
      "queues",
      data.queues.map(function (q) {
        return row(
          [
            q.name,
            { text: q.depth, cls: "num", testid: "queue-" + q.name + "-depth" },
            { text: seconds(q.oldest_age_s), cls: "num", testid: "queue-" + q.name + "-oldest" },
          ],
          "queue-" + q.name
        );
      })
    );
  }

  function drawItems(data) {
    const rows = Object.keys(data.by_status).map(function (status) {
      return row([status, { text: data.by_status[status], cls: "num", testid: "items-" + status }]);
    });
    rows.push(row(["outbox", { text: data.outbox_waiting, cls: "num", testid: "items-outbox" }]));
    fill("items", rows);
  }

  function drawThroughput(data) {
    setText("done-total", data.done_total);
    setText("failed-total", data.failed_total);
    const chart = root.querySelector('[data-testid="throughput-chart"]');
    const peak = Math.max(1, Math.max.apply(null, data.done.concat(data.failed)));
    const width = 600 / data.minutes;
    const bars = [];
    for (let i = 0; i < data.minutes; i++) {
      [["done", data.done[i], 0], ["failed", data.failed[i], width / 2]].forEach(function (b) {
        if (!b[1]) return;
        const rect = document.createElementNS(SVG, "rect");
        const h = (78 * b[1]) / peak;
        rect.setAttribute("x", String(i * width + b[2]));
        rect.setAttribute("y", String(80 - h));
        rect.setAttribute("width", String(width / 2 - 0.5));
        rect.setAttribute("height", String(h));
        rect.setAttribute("class", b[0]);
        const title = document.createElementNS(SVG, "title");
        title.textContent = b[1] + " " + b[0] + ", " + (data.minutes - 1 - i) + " min ago";
        rect.appendChild(title);
        bars.push(rect);
      });
    }
    chart.replaceChildren.apply(chart, bars);
  }

  function drawWorkers(data) {
    if (!data.workers.length) {
      fill("workers", [row(["no worker answered", "", "", "", "", ""])]);
      return;
    }
    fill(
      "workers",
      data.workers.map(function (w) {
        const running = w.active.length
          ? w.active
              .map(function (t) {
                return t.task + (t.item_id ? " #" + t.item_id : "") + " (" + seconds(t.running_s) + ")";
              })
              .join(", ")
          : "idle";
        return row(
          [
            w.name,
            w.queues.join(", "),
            { text: w.concurrency === null ? "–" : w.concurrency, cls: "num" },
            running,
            { text: w.processed, cls: "num" },
            seconds(w.uptime_s),
          ],
          "worker"
        );
      })
    );
  }

  function drawStages(data) {
    setText("stages-sampled", data.sampled_items);
    fill(
      "stages",
      data.stages.map(function (s) {
        return row(
          [s.name, { text: ms(s.p50_ms), cls: "num" }, { text: ms(s.p95_ms), cls: "num" }, { text: s.count, cls: "num" }],
          "stage-" + s.name
        );
      })
    );
  }

  // POST a JSON body with the CSRF token; resolves to the answer, rejects with its detail
  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) throw new Error(answer.detail || "HTTP " + response.status);
        return answer;
      });
    });
  }

  function retry(body, button) {
    button.disabled = true;
    postJson(root.dataset.retryUrl, body)
      .then(function (answer) {
        answer.retried.forEach(function (id) {
          watched.add(id);
        });
        refresh();
      })
      .catch(function (err) {
        button.disabled = false;
        button.textContent = "Retry failed: " + err.message;
      });
  }

  function drawFailures(data) {
    setText("failures-total", data.total + " failed item" + (data.total === 1 ? "" : "s"));
    fill(
      "failures",
      data.groups.map(function (g) {
        const box = el("div", null, "ops-failure");
        box.dataset.testid = "failure-group";
        box.appendChild(el("div", g.reason, "reason"));
        const ids = el("div", g.count + " item" + (g.count === 1 ? "" : "s") + ": #" + g.item_ids.join(", #"), "ops-ids");
        ids.dataset.testid = "failure-ids";
        box.appendChild(ids);
        const button = el("button", "Retry " + (g.count === 1 ? "it" : "all " + g.count));
        button.type = "button";
        button.dataset.testid = "retry-group";
        button.addEventListener("click", function () {
          retry({ reason: g.reason }, button);
        });
        box.appendChild(button);
        return box;
      })
    );
  }

  function drawWatch(data) {
    fill(
      "watch",
      data.items.map(function (item) {
        const li = el("li", "#" + item.id + ": " + item.status, item.status);
        li.dataset.testid = "watch-" + item.id;
        li.dataset.status = item.status;
        return li;
      })
    );
  }

  function drawReindex(data) {
    setText("reindex-count", data.count);
    setText("reindex-ids", data.item_ids.length ? "#" + data.item_ids.join(", #") : "");
  }

  // "Analysed by older versions": ids, kinds and versions only (the items may be private).
  const selected = new Set();

  function versionsText(v) {
    if (!v) return "no versions recorded";
    const models = Object.keys(v.models || {})
      .sort()
      .map(function (name) {
        return name + " " + v.models[name];
      })
      .join(", ");
    return "analysis " + v.analysis + " · bank " + v.concept_bank + " · " + models;
  }

  function reprocess(body, button) {
    const error = root.querySelector('[data-testid="reprocess-error"]');
    button.disabled = true;
    error.hidden = true;
    postJson(root.dataset.reprocessUrl, body)
      .then(function () {
        selected.clear();
        refresh();
      })
      .catch(function (err) {
        button.disabled = false;
        error.textContent = "Reprocessing was not started: " + err.message;
        error.hidden = false;
      });
  }

  function drawReprocess(data) {
    setText("outdated-count", data.count);
    setText("current-versions", versionsText(data.current_versions));
    const listed = new Set(data.items.map(function (i) { return i.id; }));
    Array.from(selected).forEach(function (id) {
      if (!listed.has(id)) selected.delete(id);
    });
    fill(
      "outdated",
      data.items.map(function (item) {
        const tr = row(["", "#" + item.id, item.kind, versionsText(item.versions)], "outdated-" + item.id);
        const box = document.createElement("input");
        box.type = "checkbox";
        box.checked = selected.has(item.id);
        box.dataset.testid = "select-" + item.id;
        box.setAttribute("aria-label", "select item " + item.id);
        box.addEventListener("change", function () {
          if (box.checked) selected.add(item.id);
          else selected.delete(item.id);
          root.querySelector('[data-testid="reprocess-selected"]').disabled = selected.size === 0;
        });
        tr.firstChild.appendChild(box);
        return tr;
      })
    );
    root.querySelector('[data-testid="reprocess-selected"]').disabled = selected.size === 0;
    root.querySelector('[data-testid="reprocess-all"]').disabled = data.count === 0;
    const runs = data.runs.map(function (r) {
      return row(
        [
          "#" + r.id,
          new Date(r.created).toLocaleString(),
          { text: r.total, cls: "num" },
          { text: r.done, cls: "num", testid: "run-done" },
          { text: r.failed, cls: "num", testid: "run-failed" },
          { text: r.pending, cls: "num", testid: "run-pending" },
          r.finished ? new Date(r.finished).toLocaleTimeString() : "running",
        ],
        "run-" + r.id
      );
    });
    if (!runs.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = 7;
      td.className = "muted";
      td.textContent = "No reprocessing run yet.";
      tr.appendChild(td);
      runs.push(tr);
    }
    fill("reprocess-runs", runs);
  }

  root.querySelector('[data-testid="reprocess-selected"]').addEventListener("click", function (event) {
    reprocess({ ids: Array.from(selected) }, event.currentTarget);
  });
  root.querySelector('[data-testid="reprocess-all"]').addEventListener("click", function (event) {
    reprocess({ all: true }, event.currentTarget);
  });

  function drawTriton(data) {
    fill(
      "triton",
      data.models.map(function (m) {
        const batches = m.batches
          .map(function (b) {
            return b.size + "×" + b.count;
          })
          .join(" ");
        return row(
          [
            m.name,
            m.state,
            { text: m.inference_count, cls: "num", testid: "inferences" },
            { text: m.execution_count, cls: "num" },
            { text: m.mean_batch === null ? "–" : m.mean_batch, cls: "num" },
            { text: ms(m.queue_ms), cls: "num" },
            { text: ms(m.compute_ms), cls: "num" },
            batches || "–",
          ],
          "triton-" + m.name
        );
      })
    );
  }

  function drawMilvus(data) {
    setText("milvus-collection", data.collection);
    setText("milvus-rows", data.rows);
    setText("milvus-item-rows", data.item_rows);
    setText("milvus-shot-rows", data.shot_rows);
    fill(
      "milvus-indexes",
      data.indexes.map(function (i) {
        const params = Object.keys(i.params)
          .map(function (k) {
            return k + "=" + i.params[k];
          })
          .join(", ");
        const built = i.indexed_rows === null ? i.state : i.state + ", " + i.indexed_rows + " rows" +
          (i.pending_rows ? ", " + i.pending_rows + " pending" : "");
        return row([i.field, i.index_type, i.metric_type, params || "–", built || "–"], "milvus-index-" + i.field);
      })
    );
  }

  function draw(data) {
    section("queues", data.queues, drawQueues);
    section("items", data.items, drawItems);
    section("throughput", data.throughput, drawThroughput);
    section("workers", data.workers, drawWorkers);
    section("stages", data.stages, drawStages);
    section("failures", data.failures, function (f) {
      drawFailures(f);
      if (data.watch && !data.watch.error) drawWatch(data.watch);
    });
    section("reindex", data.reindex, drawReindex);
    section("reprocess", data.reprocess, drawReprocess);
    section("triton", data.triton, drawTriton);
    section("milvus", data.milvus, drawMilvus);
    setText("updated", new Date(data.generated_at).toLocaleTimeString());
  }

  let timer = null;
  function refresh() {
    if (timer) clearTimeout(timer);
    const url = root.dataset.apiUrl + (watched.size ? "?watch=" + Array.from(watched).join(",") : "");
    const error = root.querySelector('[data-testid="fetch-error"]');
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        error.hidden = true;
        draw(data);
      })
      .catch(function (err) {
        error.textContent = "could not refresh: " + err.message;
        error.hidden = false;
      })
      .finally(function () {
        timer = setTimeout(refresh, refreshMs);
      });
  }
  refresh();
})();
