//! The page's frame: escaping, the document around a page's body, and its
//! style sheet (plain CSS, inline: no build step, no JavaScript).

/// `text`, safe inside HTML text and quoted attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A form that posts only the CSRF token to `action`, as one button.
pub fn button_form(action: &str, csrf: &str, label: &str, class: &str) -> String {
    format!(
        "<form method=post action={action} class=inline>\
         <input type=hidden name=csrf value={csrf}>\
         <button class=\"{class}\">{}</button></form>",
        escape(label)
    )
}

/// The whole document: head and style, the top bar (`who`: already HTML),
/// the page's `main` content and the diagnostic `footer` (both HTML).
pub fn document(who: &str, main: &str, footer: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>Gimlet shop</title><style>{STYLE}</style></head><body>\
         <header class=top><div class=wrap><h1>Gimlet shop</h1>{who}</div></header>\
         <main class=wrap>{main}</main>{footer}</body></html>"
    )
}

/// The style sheet: a restrained palette, system fonts, one accent.
pub const STYLE: &str = r#"
:root { --ink: #1d2521; --muted: #5d6a63; --line: #dde3df; --paper: #f6f7f5;
  --card: #fff; --accent: #2f6b4f; --accent-ink: #fff; --warn: #8a3b2e; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink); min-height: 100vh;
  display: flex; flex-direction: column;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.wrap { max-width: 1000px; margin: 0 auto; padding: 0 24px; }
header.top { background: var(--card); border-bottom: 1px solid var(--line); }
header.top .wrap { display: flex; align-items: center; justify-content: space-between;
  gap: 16px; min-height: 64px; }
h1 { font-size: 20px; margin: 0; letter-spacing: .01em; }
h1::before { content: ""; display: inline-block; width: 12px; height: 12px;
  border-radius: 50%; background: #9cc46a; margin-right: 10px; vertical-align: 1px; }
h2 { font-size: 17px; margin: 0 0 12px; }
.who { color: var(--muted); display: flex; align-items: center; gap: 12px; }
.who b { color: var(--ink); }
main.wrap { padding-top: 24px; padding-bottom: 8px; flex: 1; width: 100%; }
.note { background: #eaf3ec; border: 1px solid #c9e0cf; border-radius: 6px;
  padding: 10px 14px; margin: 0 0 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 20px; margin: 0 0 20px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
.grid > .card { margin: 0 0 20px; }
.muted { color: var(--muted); font-size: 14px; margin: 8px 0 0; }
form.inline { display: inline; margin: 0; }
input[name=name] { font: inherit; padding: 7px 10px; border: 1px solid var(--line);
  border-radius: 6px; width: 220px; margin-right: 8px; }
button { font: inherit; font-size: 15px; cursor: pointer; border-radius: 6px;
  padding: 7px 14px; border: 1px solid var(--accent); background: var(--accent);
  color: var(--accent-ink); }
button.quiet { background: var(--card); color: var(--accent); }
button.danger { background: var(--card); color: var(--warn); border-color: var(--warn); }
.products { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
.product { border: 1px solid var(--line); border-radius: 6px; padding: 12px;
  display: flex; flex-direction: column; gap: 10px; align-items: flex-start; }
.product b { text-transform: capitalize; }
ul.cart { margin: 0; padding-left: 20px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px 6px 0; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
.badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 10px;
  background: #e3efe7; color: var(--accent); margin-left: 6px; }
.actions { display: flex; gap: 10px; margin-top: 14px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
footer.diag { background: #23302a; color: #d8e2dc; padding: 20px 0 28px; font-size: 14px; }
footer.diag h2 { color: #fff; font-size: 14px; text-transform: uppercase;
  letter-spacing: .08em; margin: 0 0 6px; }
footer.diag .headline { color: #fff; font-size: 16px; margin: 0 0 14px; }
footer.diag .cols { display: grid; grid-template-columns: 1fr 1fr; gap: 32px; }
footer.diag td:nth-child(3), footer.diag td:nth-child(4) { white-space: nowrap; }
footer.diag h3 { font-size: 13px; color: #9fb5a9; font-weight: 600; margin: 12px 0 4px; }
footer.diag table { font-size: 13px; }
footer.diag th { color: #9fb5a9; }
footer.diag th, footer.diag td { border-bottom-color: #3a4a42; }
footer.diag code { color: #f1f5f2; }
footer.diag td.sub { padding-left: 14px; }
footer.diag th, footer.diag td.sub { white-space: nowrap; }
footer.diag .small { color: #9fb5a9; font-size: 12px; margin: 10px 0 0; }
form.login { display: flex; flex-wrap: wrap; align-items: center; gap: 10px; }
form.login input[name=name] { margin-right: 0; }
form.login label { color: var(--muted); font-size: 15px; display: flex; gap: 6px;
  align-items: center; }
a.button { display: inline-block; text-decoration: none; border-radius: 6px;
  padding: 7px 14px; background: var(--accent); color: var(--accent-ink); }
.scroll { overflow-x: auto; max-width: 100%; }
.cols > *, .grid > * { min-width: 0; }
@media (max-width: 720px) {
  .wrap { padding: 0 14px; }
  header.top .wrap { flex-wrap: wrap; padding-top: 10px; padding-bottom: 10px; }
  .grid, footer.diag .cols { grid-template-columns: 1fr; gap: 16px; }
  .products { grid-template-columns: repeat(2, 1fr); }
  .card { padding: 16px; }
  input[name=name] { width: 100%; }
  .actions { flex-wrap: wrap; }
}
"#;
