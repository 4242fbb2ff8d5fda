// movierec's page: a client of the JSON API and nothing else, so the page and the API cannot
// disagree. Routes live in the URL's hash (#/users, #/users/ID, #/movies/ID, #/visitor,
// #/model); every view is built with DOM calls (no HTML from data, so no injection); labels in
// English and French; the API token is kept in sessionStorage (this tab only).
"use strict";

const TEXT = {
  en: {
    lang: "Language", "nav.users": "Users", "nav.visitor": "New visitor", "nav.model": "Model",
    "footer.api": "The JSON API", loading: "Loading…", error: "Error", none: "none",
    "users.title": "Users", "users.search": "Search by id or name", "users.go": "Search",
    "users.found": "{total} users", "users.id": "Id", "users.name": "Name", "users.ratings": "Ratings",
    "users.known": "In the model", yes: "yes", no: "no", prev: "Previous", next: "Next",
    page: "Page {page} of {pages}",
    "user.title": "User {name}", "user.recs": "Top {n} recommendations", "user.howmany": "How many",
    "user.update": "Show", "user.rated": "Ratings ({total})", rank: "Rank", title: "Title", year: "Year",
    directors: "Directors", actors: "Actors", imdb: "IMDb", relevance: "Predicted relevance", why: "Because they liked", noLiked: "no movie they liked is like it",
    score: "Score", sort: "Sort by", "sort.by": "Sort by {col}",
    "movie.title": "Movie", "movie.nratings": "Ratings", "movie.mean": "Mean score", "movie.votes": "IMDb votes",
    "movie.description": "Description", "movie.similar": "Similar movies", similarity: "Similarity",
    "visitor.title": "New visitor", "visitor.intro": "Rate a few movies from 0 to 100 and get recommendations at once. Nothing is stored.",
    "visitor.search": "Search movies by title", "visitor.rate": "Your score (0 to 100) for {title}", "visitor.add": "Rate",
    "visitor.rated": "Your ratings", "visitor.remove": "Remove {title}", "visitor.get": "Recommend",
    "visitor.empty": "No ratings yet.", "visitor.recs": "Recommended for you",
    "model.title": "The model served", "model.kind": "Ranking", "model.rerank": "Re-ranked by relevance (best)",
    "model.algorithm": "Rating model", "model.params": "Its parameters", "model.trained": "Trained at", "model.age": "Age",
    "model.fingerprint": "Data fingerprint", "model.size": "Ratings, users, movies", "model.source": "Source",
    "model.metrics": "Evaluation", "model.none": "No model is loaded yet.",
    "ops.title": "Operations", "ops.token": "API token (kept for this tab only)", "ops.refresh": "Reload the model",
    "ops.refreshed": "Reloaded: {users} users, {movies} movies.", "ops.grid": "Start a grid search",
    "ops.space": "Search space (JSON; empty: params.yaml's)", "ops.cv": "Folds", "ops.algorithm": "Algorithm", "ops.promote": "Serve the best model when done", "ops.progress": "Grid search {id}: {state}",
    "hours": "{h} h", "days": "{d} days",
  },
  fr: {
    lang: "Langue", "nav.users": "Utilisateurs", "nav.visitor": "Nouveau visiteur", "nav.model": "Modèle",
    "footer.api": "L’API JSON", loading: "Chargement…", error: "Erreur", none: "aucun",
    "users.title": "Utilisateurs", "users.search": "Chercher par identifiant ou par nom", "users.go": "Chercher",
    "users.found": "{total} utilisateurs", "users.id": "Identifiant", "users.name": "Nom", "users.ratings": "Notes",
    "users.known": "Dans le modèle", yes: "oui", no: "non", prev: "Précédente", next: "Suivante",
    page: "Page {page} sur {pages}",
    "user.title": "Utilisateur {name}", "user.recs": "Les {n} meilleures recommandations", "user.howmany": "Combien",
    "user.update": "Afficher", "user.rated": "Notes ({total})", rank: "Rang", title: "Titre", year: "Année",
    directors: "Réalisation", actors: "Distribution", imdb: "IMDb", relevance: "Pertinence prédite", why: "Parce qu’il ou elle a aimé", noLiked: "aucun film aimé ne lui ressemble",
    score: "Score", sort: "Trier par", "sort.by": "Trier par {col}",
    "movie.title": "Film", "movie.nratings": "Notes", "movie.mean": "Score moyen", "movie.votes": "Votes IMDb",
    "movie.description": "Résumé", "movie.similar": "Films proches", similarity: "Similarité",
    "visitor.title": "Nouveau visiteur", "visitor.intro": "Notez quelques films de 0 à 100 et obtenez aussitôt des recommandations. Rien n’est conservé.",
    "visitor.search": "Chercher un film par son titre", "visitor.rate": "Votre score (0 à 100) pour {title}", "visitor.add": "Noter",
    "visitor.rated": "Vos notes", "visitor.remove": "Retirer {title}", "visitor.get": "Recommander",
    "visitor.empty": "Aucune note pour l’instant.", "visitor.recs": "Recommandés pour vous",
    "model.title": "Le modèle servi", "model.kind": "Classement", "model.rerank": "Reclassés par pertinence (meilleurs)",
    "model.algorithm": "Modèle de notes", "model.params": "Ses paramètres", "model.trained": "Entraîné le", "model.age": "Âge",
    "model.fingerprint": "Empreinte des données", "model.size": "Notes, utilisateurs, films", "model.source": "Source",
    "model.metrics": "Évaluation", "model.none": "Aucun modèle n’est encore chargé.",
    "ops.title": "Opérations", "ops.token": "Jeton de l’API (gardé pour cet onglet seulement)", "ops.refresh": "Recharger le modèle",
    "ops.refreshed": "Rechargé : {users} utilisateurs, {movies} films.", "ops.grid": "Lancer une recherche sur grille",
    "ops.space": "Espace de recherche (JSON ; vide : celui de params.yaml)", "ops.cv": "Plis", "ops.algorithm": "Algorithme", "ops.promote": "Servir le meilleur modèle à la fin", "ops.progress": "Recherche {id} : {state}",
    "hours": "{h} h", "days": "{d} jours",
  },
};

let lang = localStorage.getItem("movierec.lang") || (navigator.language || "en").slice(0, 2);
if (!TEXT[lang]) lang = "en";

/** The label `key` in the current language, with `{name}` filled from `vars`. */
function t(key, vars = {}) {
  const s = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

/** An element: `h("a", {href: "#"}, "text", child, ...)`; text is always text, never HTML. */
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else if (k === "style") e.style.cssText = v; // CSSOM: allowed by the page's CSP, unlike the attribute
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** A call to the JSON API; rejects with the API's own message on an error status. */
async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `${response.status} ${response.statusText}`;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return body;
}

const main = () => document.getElementById("main");
const fmt = (x, digits = 1) => (x === null || x === undefined ? "—" : Number(x).toLocaleString(lang, { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const year = (title) => { const m = /\((\d{4})\)\s*$/.exec(title || ""); return m ? m[1] : "—"; };
const userLink = (id, name) => h("a", { href: `#/users/${encodeURIComponent(id)}` }, name || id);
const movieLink = (id, title) => h("a", { href: `#/movies/${encodeURIComponent(id)}` }, title || id);
const errorBox = (e) => h("p", { class: "error", role: "alert" }, `${t("error")}: ${e.message}`);

function announce(text) {
  document.getElementById("status").textContent = text;
}

/** Puts `nodes` in place of the page's content and moves the focus to its heading. */
function show(...nodes) {
  const m = main();
  m.replaceChildren(...nodes);
  const heading = m.querySelector("h1");
  if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); document.title = `${heading.textContent} · movierec`; }
}

/** A table whose cells carry their column's name (phone width shows each row as a card). */
function table(columns, rows, caption) {
  return h("div", { class: "table-wrap" },
    h("table", { class: "cards" },
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => c.header instanceof Node ? c.header : h("th", { scope: "col", class: c.num ? "num" : c.nowrap ? "nowrap" : null }, c.label)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", { "data-label": c.label, class: c.num ? "num" : c.nowrap ? "nowrap" : null }, c.cell(r))))))));
}

/** A term and its value in a `<dl class="facts">`. */
const fact = (label, value) => [h("dt", {}, label), h("dd", {}, value ?? "—")];

function relevanceCell(score) {
  const pct = Math.max(0, Math.min(100, Number(score)));
  return h("span", { class: "relevance" }, h("span", {}, fmt(score)), h("span", { class: "bar", "aria-hidden": "true" }, h("span", { style: `width:${pct}%` })));
}

function recommendationTable(recs, caption) {
  return table([
    { label: t("rank"), num: true, cell: (r) => r.rank },
    { label: t("title"), cell: (r) => movieLink(r.movie_id, r.title) },
    { label: t("year"), nowrap: true, cell: (r) => year(r.title) },
    { label: t("directors"), cell: (r) => r.directors || "—" },
    { label: t("actors"), cell: (r) => r.actors || "—" },
    { label: t("imdb"), num: true, cell: (r) => fmt(r.imdb_rating) },
    { label: t("relevance"), nowrap: true, cell: (r) => relevanceCell(r.score) },
    { label: t("why"), cell: (r) => (r.because && r.because.length
        ? h("ul", { class: "why" }, r.because.map((b) => h("li", {}, movieLink(b.movie_id, b.title), ` (${fmt(b.score, 0)})`)))
        : r.because ? t("noLiked") : "—") },
  ], recs, caption);
}

function pager(offset, limit, total, go) {
  const pages = Math.max(1, Math.ceil(total / limit));
  const page = Math.floor(offset / limit) + 1;
  return h("nav", { class: "pager", "aria-label": t("page", { page, pages }) },
    h("button", { class: "secondary", disabled: page <= 1, onclick: () => go(Math.max(0, offset - limit)) }, t("prev")),
    h("span", {}, t("page", { page, pages })),
    h("button", { class: "secondary", disabled: page >= pages, onclick: () => go(offset + limit) }, t("next")));
}

// ---- views ----

async function usersView(params) {
  const q = params.get("q") || "";
  const offset = Number(params.get("offset") || 0);
  const limit = 20;
  const input = h("input", { type: "search", id: "user-search", name: "q", value: q, autocomplete: "off" });
  const form = h("form", { class: "inline", role: "search", onsubmit: (e) => { e.preventDefault(); location.hash = `#/users?q=${encodeURIComponent(input.value.trim())}`; } },
    h("label", { for: "user-search" }, t("users.search"), input), h("button", { type: "submit" }, t("users.go")));
  const results = h("div", { "aria-busy": "true" }, t("loading"));
  show(h("h1", {}, t("users.title")), form, results);
  try {
    const page = await api(`/users?offset=${offset}&limit=${limit}${q ? `&q=${encodeURIComponent(q)}` : ""}`);
    results.replaceChildren(
      h("p", {}, t("users.found", { total: page.total.toLocaleString(lang) })),
      table([
        { label: t("users.id"), cell: (u) => userLink(u.id, u.id) },
        { label: t("users.name"), cell: (u) => userLink(u.id, u.name || "—") },
        { label: t("users.ratings"), num: true, cell: (u) => u.n_ratings },
        { label: t("users.known"), cell: (u) => (u.known_to_model ? t("yes") : t("no")) },
      ], page.users, t("users.title")),
      pager(offset, limit, page.total, (o) => { location.hash = `#/users?${new URLSearchParams({ q, offset: o })}`; }));
    results.removeAttribute("aria-busy");
    announce(t("users.found", { total: page.total }));
  } catch (e) { results.replaceChildren(errorBox(e)); }
}

async function userView(id, params) {
  const n = Number(params.get("n") || 10);
  const heading = h("h1", {}, t("user.title", { name: id }));
  const recs = h("section", { "aria-labelledby": "recs-h" }, h("h2", { id: "recs-h" }, t("user.recs", { n })), h("p", {}, t("loading")));
  const rated = h("section", { "aria-labelledby": "rated-h" }, h("h2", { id: "rated-h" }, t("user.rated", { total: "…" })));
  show(heading, recs, rated);
  try {
    const [detail, list] = await Promise.all([
      api(`/users/${encodeURIComponent(id)}?limit=1000`),
      api(`/users/${encodeURIComponent(id)}/recommendations?n=${n}&explain=3`).catch((e) => e),
    ]);
    heading.textContent = t("user.title", { name: detail.name ? `${detail.name} (${id})` : id });
    document.title = `${heading.textContent} · movierec`;
    const select = h("select", { id: "how-many", name: "n" }, [5, 10, 20, 50].map((v) => h("option", { value: v, selected: v === n }, v)));
    const form = h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); location.hash = `#/users/${encodeURIComponent(id)}?n=${select.value}`; } },
      h("label", { for: "how-many" }, t("user.howmany"), select), h("button", { type: "submit" }, t("user.update")));
    recs.replaceChildren(h("h2", { id: "recs-h" }, t("user.recs", { n })), form,
      list instanceof Error ? errorBox(list) : recommendationTable(list.recommendations, t("user.recs", { n })));
    ratingsTable(rated, detail);
  } catch (e) { recs.replaceChildren(errorBox(e)); }
}

/** The user's ratings, sortable by score or title (the sort is the page's, over every rating):
 * by the column headers, or by the menu above the table (which phones show without them). */
function ratingsTable(section, detail) {
  let items = detail.ratings.items.slice();
  let sort = { key: "score", dir: "descending" };
  const body = h("div");
  const orders = [["score", "descending"], ["score", "ascending"], ["title", "ascending"], ["title", "descending"]];
  const menu = h("select", { id: "rating-sort" }, orders.map(([key, dir]) =>
    h("option", { value: `${key}:${dir}` }, `${t(key)} ${dir === "ascending" ? "↑" : "↓"}`)));
  menu.addEventListener("change", () => { const [key, dir] = menu.value.split(":"); sort = { key, dir }; render(); });
  const render = () => {
    menu.value = `${sort.key}:${sort.dir}`;
    const sign = sort.dir === "ascending" ? 1 : -1;
    items.sort((a, b) => sort.key === "score"
      ? sign * (a.score - b.score) || (a.title || "").localeCompare(b.title || "", lang)
      : sign * (a.title || a.movie_id).localeCompare(b.title || b.movie_id, lang));
    const header = (key, label, num) => h("th", { scope: "col", class: num ? "num" : null, "aria-sort": sort.key === key ? sort.dir : "none" },
      h("button", { class: "sort", type: "button", "aria-label": t("sort.by", { col: label }), onclick: () => {
        sort = { key, dir: sort.key === key && sort.dir === "descending" ? "ascending" : "descending" };
        render();
        body.querySelector(`th[aria-sort="${sort.dir}"] button`).focus();
      } }, label));
    body.replaceChildren(table([
      { label: t("title"), header: header("title", t("title")), cell: (r) => movieLink(r.movie_id, r.title) },
      { label: t("score"), num: true, header: header("score", t("score"), true), cell: (r) => fmt(r.score, 0) },
    ], items, t("user.rated", { total: detail.ratings.total })));
  };
  section.replaceChildren(h("h2", { id: "rated-h" }, t("user.rated", { total: detail.ratings.total })),
    h("form", { class: "inline", onsubmit: (e) => e.preventDefault() }, h("label", { for: "rating-sort" }, t("sort"), menu)), body);
  render();
}

async function movieView(id) {
  const heading = h("h1", {}, t("movie.title"));
  const facts = h("div", {}, t("loading"));
  const similar = h("section", { "aria-labelledby": "similar-h" }, h("h2", { id: "similar-h" }, t("movie.similar")));
  show(heading, facts, similar);
  try {
    const [detail, sim] = await Promise.all([
      api(`/movies/${encodeURIComponent(id)}`),
      api(`/movies/${encodeURIComponent(id)}/similar?n=10`).catch((e) => e),
    ]);
    const m = detail;
    heading.textContent = m.title || id;
    document.title = `${heading.textContent} · movierec`;
    facts.replaceChildren(h("dl", { class: "facts" },
      fact(t("year"), year(m.title)), fact(t("directors"), m.directors), fact(t("actors"), m.actors),
      fact(t("imdb"), fmt(m.imdb_rating)), fact(t("movie.votes"), m.imdb_votes?.toLocaleString(lang)),
      fact(t("movie.nratings"), m.n_ratings.toLocaleString(lang)), fact(t("movie.mean"), fmt(m.mean_score)),
      fact(t("movie.description"), detail.description)));
    similar.replaceChildren(h("h2", { id: "similar-h" }, t("movie.similar")), sim instanceof Error ? errorBox(sim) : table([
      { label: t("rank"), num: true, cell: (r) => r.rank },
      { label: t("title"), cell: (r) => movieLink(r.movie_id, r.title) },
      { label: t("similarity"), num: true, cell: (r) => fmt(r.similarity, 3) },
    ], sim.similar, t("movie.similar")));
  } catch (e) { facts.replaceChildren(errorBox(e)); }
}

/** The visitor's ratings, kept for this tab only. */
const visitor = { ratings: new Map() };

function visitorView() {
  const input = h("input", { type: "search", id: "movie-search", autocomplete: "off" });
  const found = h("div");
  const search = async () => {
    const q = input.value.trim();
    if (!q) { found.replaceChildren(); return; }
    try {
      const page = await api(`/movies?q=${encodeURIComponent(q)}&limit=10`);
      found.replaceChildren(h("ul", { class: "plain" }, page.movies.map((m) => {
        const score = h("input", { type: "number", min: 0, max: 100, step: 1, value: 50, id: `rate-${m.id}`, inputmode: "numeric", style: "width:5rem" });
        return h("li", {}, h("span", {}, m.title || m.id, ` (${year(m.title)})`),
          h("span", {}, h("label", { class: "visually-hidden", for: `rate-${m.id}` }, t("visitor.rate", { title: m.title || m.id })), score, " ",
            h("button", { type: "button", onclick: () => {
              const v = Number(score.value);
              if (!(v >= 0 && v <= 100)) { score.setCustomValidity("0–100"); score.reportValidity(); return; }
              visitor.ratings.set(m.id, { title: m.title || m.id, score: v });
              renderRated();
              announce(`${m.title}: ${v}`);
            } }, t("visitor.add"))));
      })));
    } catch (e) { found.replaceChildren(errorBox(e)); }
  };
  const form = h("form", { class: "inline", role: "search", onsubmit: (e) => { e.preventDefault(); search(); } },
    h("label", { for: "movie-search" }, t("visitor.search"), input), h("button", { type: "submit" }, t("users.go")));
  const rated = h("section", { "aria-labelledby": "vr-h" });
  const results = h("section", { "aria-live": "polite" });
  const renderRated = () => {
    const list = [...visitor.ratings.entries()];
    rated.replaceChildren(h("h2", { id: "vr-h" }, t("visitor.rated")),
      list.length === 0 ? h("p", { class: "muted" }, t("visitor.empty")) : h("ul", { class: "plain" }, list.map(([id, r]) =>
        h("li", {}, h("span", {}, `${r.title}: ${r.score}`),
          h("button", { type: "button", class: "secondary", "aria-label": t("visitor.remove", { title: r.title }),
            onclick: () => { visitor.ratings.delete(id); renderRated(); } }, "✕")))),
      h("button", { type: "button", id: "recommend", disabled: list.length === 0, onclick: recommend }, t("visitor.get")));
  };
  const recommend = async () => {
    try {
      const body = { ratings: [...visitor.ratings.entries()].map(([movie_id, r]) => ({ movie_id, score: r.score })), n: 10 };
      const list = await api("/recommendations", { method: "POST", body });
      results.replaceChildren(h("h2", {}, t("visitor.recs")), recommendationTable(list.recommendations, t("visitor.recs")));
    } catch (e) { results.replaceChildren(errorBox(e)); }
  };
  show(h("h1", {}, t("visitor.title")), h("p", {}, t("visitor.intro")), form, found, rated, results);
  renderRated();
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const hours = seconds / 3600;
  return hours < 48 ? t("hours", { h: fmt(hours) }) : t("days", { d: fmt(hours / 24) });
}

async function modelView() {
  const info = h("div", {}, t("loading"));
  const ops = operationsPanel();
  show(h("h1", {}, t("model.title")), info, ops);
  try {
    const root = await api("/");
    const select = ops.querySelector("#algorithm");
    for (const a of root.algorithms || []) if (a !== "svd") select.append(h("option", { value: a }, a));
    const m = root.model;
    if (!m) { info.replaceChildren(h("p", {}, t("model.none"))); return; }
    const metrics = m.metrics || {};
    const best = metrics.best_ranking;
    info.replaceChildren(h("dl", { class: "facts" },
      fact(t("model.kind"), m.ranking.kind), fact(t("model.rerank"), m.ranking.rerank || t("none")),
      fact(t("model.algorithm"), m.mode ? `${m.algorithm} (${m.mode})` : m.algorithm),
      fact(t("model.params"), Object.entries(m.params).filter(([, v]) => v !== null)
        .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ")),
      fact(t("model.trained"), new Date(m.trained_at).toLocaleString(lang)), fact(t("model.age"), age(m.age_seconds)),
      fact(t("model.fingerprint"), m.data_fingerprint), fact(t("model.source"), m.source),
      fact(t("model.size"), `${m.n_ratings.toLocaleString(lang)}, ${m.n_users.toLocaleString(lang)}, ${m.n_movies.toLocaleString(lang)}`),
      fact(t("model.metrics"), [
        metrics.test_score ? `rmse ${fmt(metrics.test_score.rmse, 2)}, mae ${fmt(metrics.test_score.mae, 2)}` : null,
        best ? `${metrics.measure} ${fmt(best.test_score, 3)}` : null,
      ].filter(Boolean).join("; ") || "—")));
  } catch (e) { info.replaceChildren(errorBox(e)); }
}

function operationsPanel() {
  const token = h("input", { type: "password", id: "token", autocomplete: "off", value: sessionStorage.getItem("movierec.token") || "" });
  token.addEventListener("change", () => sessionStorage.setItem("movierec.token", token.value));
  const out = h("div", { role: "status", "aria-live": "polite" });
  const auth = () => ({ Authorization: `Bearer ${token.value}` });
  const refresh = async () => {
    out.replaceChildren(t("loading"));
    try {
      const r = await api("/refresh", { method: "POST", headers: auth() });
      out.replaceChildren(h("p", {}, t("ops.refreshed", { users: r.users, movies: r.movies })));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  const cv = h("input", { type: "number", id: "cv", min: 2, max: 10, value: 3, style: "width:5rem" });
  const space = h("textarea", { id: "space", rows: 2, cols: 40, spellcheck: "false", placeholder: '{"n_factors": [50, 100], "lr_all": [0.003, 0.005]}' });
  const promote = h("input", { type: "checkbox", id: "promote" });
  // SVD's space, or another algorithm's param_grid (Surprise's GridSearchCV's); the others
  // come with the root (modelView).
  const algorithm = h("select", { id: "algorithm" }, h("option", { value: "svd" }, "svd"));
  const grid = async () => {
    try {
      const body = { algorithm: algorithm.value, cv: Number(cv.value), promote: promote.checked };
      if (space.value.trim()) {
        let parsed;
        try { parsed = JSON.parse(space.value); } catch (e) { throw new Error(`${t("ops.space")}: ${e.message}`); }
        body[algorithm.value === "svd" ? "space" : "param_grid"] = parsed;
      }
      let job = await api("/gridsearch", { method: "POST", headers: auth(), body });
      const bar = h("progress", { "aria-label": t("ops.grid") });
      const line = h("p");
      const update = () => {
        bar.max = job.progress.total;
        bar.value = job.progress.done;
        line.textContent = `${t("ops.progress", { id: job.id, state: job.state })} (${job.progress.done}/${job.progress.total})`;
      };
      out.replaceChildren(line, bar);
      update();
      while (job.state === "running") {
        await new Promise((r) => setTimeout(r, 500));
        job = await api(`/gridsearch/${encodeURIComponent(job.id)}`);
        update();
      }
      if (job.result) out.append(h("p", {}, `rmse ${fmt(job.result.best_rmse, 3)}, mae ${fmt(job.result.best_mae, 3)}`));
      if (job.message) out.append(h("p", {}, job.message));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  return h("section", { class: "panel", "aria-labelledby": "ops-h" }, h("h2", { id: "ops-h" }, t("ops.title")),
    h("form", { class: "inline", onsubmit: (e) => e.preventDefault() }, h("label", { for: "token" }, t("ops.token"), token)),
    h("p", {}, h("button", { type: "button", id: "refresh", onclick: refresh }, t("ops.refresh"))),
    h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); grid(); } },
      h("label", { for: "algorithm" }, t("ops.algorithm"), algorithm),
      h("label", { for: "space" }, t("ops.space"), space),
      h("label", { for: "cv" }, t("ops.cv"), cv),
      h("label", { for: "promote", style: "flex-direction:row;align-items:center" }, promote, t("ops.promote")),
      h("button", { type: "submit", id: "gridsearch" }, t("ops.grid"))),
    out);
}

// ---- routing ----

function route() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll(".top nav a")) {
    a.toggleAttribute("aria-current", `#/${parts[0] || "users"}` === a.getAttribute("href"));
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
  if (parts[0] === "users" && parts[1]) return userView(parts[1], params);
  if (parts[0] === "movies" && parts[1]) return movieView(parts[1]);
  if (parts[0] === "visitor") return visitorView();
  if (parts[0] === "model") return modelView();
  return usersView(params);
}

function translateStatic() {
  document.documentElement.lang = lang;
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  document.getElementById("lang").value = lang;
}

document.addEventListener("DOMContentLoaded", () => {
  translateStatic();
  document.getElementById("lang").addEventListener("change", (e) => {
    lang = e.target.value;
    localStorage.setItem("movierec.lang", lang);
    translateStatic();
    route();
  });
  window.addEventListener("hashchange", route);
  route();
});
